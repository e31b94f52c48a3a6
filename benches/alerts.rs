//! Alert latency benchmark.
fn main() {}
