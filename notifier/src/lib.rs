//! Scoville's notifier (being built): alert channels behind one trait, delivery with
//! retries and dedup, and the notification job queue (SQS, in-process).
