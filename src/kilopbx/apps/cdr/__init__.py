"""Call detail records: durable CDRs, calls in progress, CDR downloads."""
