// Every test process: the AWS SDK must never reach for the instance metadata address when a
// test has no credentials (tests talk to 127.0.0.1 only).
process.env.AWS_EC2_METADATA_DISABLED = 'true';
