#!/usr/bin/env python3
"""Offline checks of infra/template.yaml, for tests/tests/infra.rs (no AWS calls).

  check.py translate TEMPLATE OUT.json
      Translates the SAM template into plain CloudFormation with aws-sam-translator,
      as `sam deploy` would after `sam package`: each local CodeUri becomes
      s3://scoville-artifacts/<its directory name>.zip first.

  check.py moto-deploy ENDPOINT TRANSLATED.json STACK [Key=Value ...]
      Deploys the translated template into moto's CloudFormation at ENDPOINT, keeping
      only the resource types moto's CloudFormation creates faithfully (DATA_TYPES) and
      dropping every resource and output that refers to a dropped one. Prints one JSON
      object: {"outputs": {...}, "kept": [...], "dropped": {logical id: type}}.
      Exits non-zero when the stack does not reach CREATE_COMPLETE.
"""

import json
import os
import re
import sys
import time

# What moto's CloudFormation creates as AWS would and what the test then uses. Left out,
# and why (see infra/README.md): Lambda functions (moto needs the code zip in its S3 and,
# to run it, Docker; the functions are built and run by cargo-lambda instead), API
# Gateway HTTP APIs and their stages/permissions (not implemented by moto's
# CloudFormation), event source mappings and permissions (they need the functions).
DATA_TYPES = {
    "AWS::DynamoDB::Table",
    "AWS::SQS::Queue",
    "AWS::CloudWatch::Alarm",
    "AWS::Logs::LogGroup",
    "AWS::IAM::Role",
    "AWS::IAM::ManagedPolicy",
}


def translate(template_path, out_path):
    from samtranslator.translator.transform import transform
    from samtranslator.yaml_helper import yaml_parse

    with open(template_path, encoding="utf-8") as f:
        template = yaml_parse(f.read())
    for res in template.get("Resources", {}).values():
        props = res.get("Properties") or {}
        uri = props.get("CodeUri")
        if res.get("Type") == "AWS::Serverless::Function" and isinstance(uri, str):
            if not uri.startswith("s3://"):
                name = os.path.basename(os.path.normpath(uri))
                props["CodeUri"] = f"s3://scoville-artifacts/{name}.zip"

    class NoManagedPolicies:  # the template names no managed policies: nothing to look up
        def load(self):
            return {}

    # The region only fills pseudo parameters the translator resolves itself (no call
    # is made with it).
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    out = transform(template, {}, NoManagedPolicies())
    with open(out_path, "w", encoding="utf-8") as f:
        json.dump(out, f, indent=1, sort_keys=True)


def refs(node):
    """Logical ids a fragment refers to (Ref, Fn::GetAtt, Fn::Sub)."""
    found = set()
    if isinstance(node, dict):
        for k, v in node.items():
            if k == "Ref" and isinstance(v, str):
                found.add(v)
            elif k == "Fn::GetAtt":
                target = v[0] if isinstance(v, list) else str(v).split(".")[0]
                found.add(target)
            elif k == "Fn::Sub":
                text = v[0] if isinstance(v, list) else v
                for name in re.findall(r"\$\{([^}!]+)\}", text):
                    found.add(name.split(".")[0])
                found |= refs(v[1] if isinstance(v, list) else {})
            else:
                found |= refs(v)
    elif isinstance(node, list):
        for v in node:
            found |= refs(v)
    return found


def data_only(template):
    resources = template["Resources"]
    kept = {k for k, r in resources.items() if r["Type"] in DATA_TYPES}
    changed = True
    while changed:
        changed = False
        for k in sorted(kept):
            if any(r in resources and r not in kept for r in refs(resources[k])):
                kept.discard(k)
                changed = True
    dropped = {k: r["Type"] for k, r in resources.items() if k not in kept}
    template["Resources"] = {k: v for k, v in resources.items() if k in kept}
    template["Outputs"] = {
        k: v
        for k, v in template.get("Outputs", {}).items()
        if not any(r in dropped for r in refs(v))
    }
    return sorted(kept), dropped


def moto_deploy(endpoint, translated_path, stack, params):
    import boto3

    with open(translated_path, encoding="utf-8") as f:
        template = json.load(f)
    kept, dropped = data_only(template)
    session = boto3.session.Session(
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        region_name="us-east-1",
    )
    cfn = session.client("cloudformation", endpoint_url=endpoint)
    cfn.create_stack(
        StackName=stack,
        TemplateBody=json.dumps(template),
        Parameters=[
            {"ParameterKey": k, "ParameterValue": v}
            for k, v in (p.split("=", 1) for p in params)
        ],
        Capabilities=["CAPABILITY_IAM"],
    )
    deadline = time.time() + 60
    while True:
        desc = cfn.describe_stacks(StackName=stack)["Stacks"][0]
        status = desc["StackStatus"]
        if not status.endswith("IN_PROGRESS") or time.time() > deadline:
            break
        time.sleep(0.2)
    if status != "CREATE_COMPLETE":
        events = cfn.describe_stack_events(StackName=stack)["StackEvents"]
        reasons = [e.get("ResourceStatusReason") for e in events if e.get("ResourceStatusReason")]
        sys.exit(f"stack {stack}: {status}: {reasons}")
    outputs = {o["OutputKey"]: o["OutputValue"] for o in desc.get("Outputs", [])}
    print(json.dumps({"outputs": outputs, "kept": kept, "dropped": dropped}, sort_keys=True))


def main(argv):
    if len(argv) >= 3 and argv[0] == "translate":
        translate(argv[1], argv[2])
    elif len(argv) >= 4 and argv[0] == "moto-deploy":
        moto_deploy(argv[1], argv[2], argv[3], argv[4:])
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main(sys.argv[1:])
