#!/usr/bin/env bash
# Deploys Scoville to AWS: builds every Lambda function with cargo-lambda (arm64), then
# deploys the core stack (infra/template.yaml) to the home region and the probe stack
# (infra/probe.yaml) to each listed region, with the shard count the shard rule gives
# (infra/README.md). Safe to run twice: `sam deploy` applies only what changed.
#
#   infra/deploy.sh --regions eu-west-1,us-east-1,ap-southeast-1 --home eu-west-1 \
#       --endpoints 25000 --probe-token-hashes sha256:... --service-token-hashes sha256:...
#
# Options:
#   --regions R1,R2,...        regions that run probes (required)
#   --home R                   region of the core stack (default: the first of --regions)
#   --endpoints N              endpoints checked per region (default 10000): shards =
#                              ceil(N / SHARD_CAPACITY), SHARD_CAPACITY = 10000
#   --stack-prefix P           stack names P-core and P-probe (default scoville)
#   --probe-token-hashes H,..  sha256:<hex> hashes of probe tokens (core stack)
#   --service-token-hashes H,. sha256:<hex> hashes of service tokens (core stack)
#   --alarm-topic-arn ARN      SNS topic for the core stack's alarms (optional)
#   --dry-run                  print every command instead of running it
#
# Needs: cargo and the aarch64-unknown-linux-gnu target (rustup target add), python3
# with pip (cargo-lambda, ziglang and aws-sam-cli are installed from pip when missing),
# AWS credentials, and in each region the Secrets Manager secrets the templates name
# (see infra/README.md).
set -euo pipefail

SHARD_CAPACITY=10000
BINS=(receiver-lambda failure-lambda admin-lambda heartbeat-sweep-lambda notifier-lambda probe-lambda)

regions=""
home=""
endpoints=10000
prefix=scoville
probe_hashes=""
service_hashes=""
alarm_topic=""
dry_run=0

die() { echo "deploy.sh: $*" >&2; exit 2; }

while [ $# -gt 0 ]; do
  case "$1" in
    --regions) regions="${2:?}"; shift 2 ;;
    --home) home="${2:?}"; shift 2 ;;
    --endpoints) endpoints="${2:?}"; shift 2 ;;
    --stack-prefix) prefix="${2:?}"; shift 2 ;;
    --probe-token-hashes) probe_hashes="${2:?}"; shift 2 ;;
    --service-token-hashes) service_hashes="${2:?}"; shift 2 ;;
    --alarm-topic-arn) alarm_topic="${2:?}"; shift 2 ;;
    --dry-run) dry_run=1; shift ;;
    -h|--help) sed -n '2,24p' "$0"; exit 0 ;;
    *) die "unknown option $1 (see --help)" ;;
  esac
done

[ -n "$regions" ] || die "--regions is required"
IFS=',' read -r -a region_list <<< "$regions"
[ -n "$home" ] || home="${region_list[0]}"
[[ "$endpoints" =~ ^[0-9]+$ ]] || die "--endpoints must be a number"
if [ "$dry_run" -eq 0 ]; then
  [ -n "$probe_hashes" ] || die "--probe-token-hashes is required"
  [ -n "$service_hashes" ] || die "--service-token-hashes is required"
else
  probe_hashes="${probe_hashes:-<probe-token-hashes>}"
  service_hashes="${service_hashes:-<service-token-hashes>}"
fi

# The shard rule: one invocation checks at most SHARD_CAPACITY endpoints in its minute.
shards=$(( (endpoints + SHARD_CAPACITY - 1) / SHARD_CAPACITY ))
[ "$shards" -ge 1 ] || shards=1
shard_list=$(seq -s, 0 $((shards - 1)))

cd "$(dirname "$0")/.."
root=$(pwd)

run() {
  if [ "$dry_run" -eq 1 ]; then
    printf '+'; printf ' %q' "$@"; printf '\n'
  else
    "$@"
  fi
}

# --- tools (pip packages; zig comes from the ziglang package)
need_pip=()
command -v cargo-lambda >/dev/null 2>&1 || need_pip+=(cargo-lambda)
python3 -c "import ziglang" 2>/dev/null || need_pip+=(ziglang)
command -v sam >/dev/null 2>&1 || need_pip+=(aws-sam-cli)
if [ "${#need_pip[@]}" -gt 0 ]; then
  run python3 -m pip install -q "${need_pip[@]}"
fi
if command -v rustup >/dev/null 2>&1 &&
  ! rustup target list --installed | grep -qx aarch64-unknown-linux-gnu; then
  run rustup target add aarch64-unknown-linux-gnu
fi

# --- build: target/lambda/<bin>/bootstrap, where the templates' CodeUri point. One
# cargo invocation for all five, so their dependencies are compiled once. cargo-lambda
# cross-compiles for aarch64 (AWS Graviton) and links with zig from the ziglang package.
# Debug info is stripped (the workspace's release profile keeps line tables; zig's
# linker then drops the symbol table too): admin-lambda is 19 MB instead of 107 MB,
# which Lambda loads at every cold start. A panic's message keeps its file and line;
# backtraces lose function names. (tests/tests/infra.rs runs the same build in the dev
# profile.)
bin_args=()
for bin in "${BINS[@]}"; do bin_args+=(--bin "$bin"); done
run cargo lambda build --release --arm64 --locked --config 'profile.release.strip="debuginfo"' \
  "${bin_args[@]}" --lambda-dir "$root/target/lambda"

# --- core stack in the home region
core="$prefix-core"
core_params=(
  "ProbeTokenHashes=$probe_hashes"
  "ServiceTokenHashes=$service_hashes"
)
[ -z "$alarm_topic" ] || core_params+=("AlarmTopicArn=$alarm_topic")
run sam deploy \
  --template-file infra/template.yaml \
  --stack-name "$core" \
  --region "$home" \
  --resolve-s3 \
  --capabilities CAPABILITY_IAM CAPABILITY_AUTO_EXPAND \
  --no-confirm-changeset \
  --no-fail-on-empty-changeset \
  --parameter-overrides "${core_params[@]}"

output() {
  if [ "$dry_run" -eq 1 ]; then
    echo "<$1 of $core>"
  else
    aws cloudformation describe-stacks --region "$home" --stack-name "$core" \
      --query "Stacks[0].Outputs[?OutputKey=='$1'].OutputValue" --output text
  fi
}
admin_url=$(output AdminApiUrl)
receiver_url=$(output ReceiverUrl)
failure_url=$(output FailureUrl)

# --- probe stack in every region
for region in "${region_list[@]}"; do
  run sam deploy \
    --template-file infra/probe.yaml \
    --stack-name "$prefix-probe" \
    --region "$region" \
    --resolve-s3 \
    --capabilities CAPABILITY_IAM CAPABILITY_AUTO_EXPAND \
    --no-confirm-changeset \
    --no-fail-on-empty-changeset \
    --parameter-overrides \
    "AdminApiUrl=$admin_url" \
    "ReceiverUrl=$receiver_url" \
    "FailureUrl=$failure_url" \
    "Shards=$shard_list" \
    "ShardCount=$shards"
done

if [ "$dry_run" -eq 1 ]; then
  echo "planned (nothing run): core $core in $home; probes in ${region_list[*]} with $shards shard(s) each" >&2
else
  echo "deployed: core $core in $home; probes in ${region_list[*]} with $shards shard(s) each" >&2
fi
