"""Load generators and benchmarks for MaiRust: ``load.smtp_load`` drives SMTP traffic at a
loopback server, ``load.bench_accept`` compares MaiRust's accept rate against reference sinks."""
