//! The stable-toolchain run of the fuzz targets, part of the test command: each target's
//! seeds in `fuzz/seeds/<target>/` are replayed (files named `regress-*` are what long
//! libFuzzer runs found: adding one makes it a regression test), then a fixed-seed
//! proptest loop feeds it mutations of those seeds and random bytes for
//! `OSPREY_FUZZ_SECS` seconds (3) or `OSPREY_FUZZ_CASES` cases (20,000; 0: no count),
//! whichever ends first. The target functions are the ones the libFuzzer targets call, so the two runs
//! cannot drift. Not coverage-guided: a smoke and regression run, while
//! `cargo +nightly fuzz run <target>` searches.
//!
//! Included by each crate's `fuzzing` module under `#[cfg(test)]`.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use proptest::prelude::*;
use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};

/// The seeds of `target`, in name order.
fn seeds(target: &str) -> Vec<Vec<u8>> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../fuzz/seeds")
        .join(target);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .map(|d| {
            d.flatten()
                .map(|e| e.path())
                .filter(|p| p.is_file())
                .collect()
        })
        .unwrap_or_default();
    files.sort();
    files.iter().filter_map(|p| std::fs::read(p).ok()).collect()
}

fn env_number(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Keeps the run's figures beside the e2e tests' (`target/reliability-figures.jsonl`,
/// for docs/reliability.md); a failure to write them is not the target's.
fn record(target: &str, cases: u64, secs: f64) {
    use std::io::Write;
    let path =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/reliability-figures.jsonl");
    let at = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let line = format!(
        "{{\"test\": \"fuzz_{target}\", \"figure\": \"cases without a failure in {secs:.1} s\", \"value\": {cases}, \"unit\": \"cases\", \"at\": {at}}}\n"
    );
    if let Ok(mut f) = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
    {
        let _ = f.write_all(line.as_bytes());
    }
}

/// Cases run between two looks at the clock.
const CHUNK: u64 = 500;

/// One edit of a mutation: (kind, position, byte).
type Edit = (u8, u16, u8);

fn mutate(mut data: Vec<u8>, edits: &[Edit], other: &[u8]) -> Vec<u8> {
    for &(kind, pos, byte) in edits {
        let at = if data.is_empty() {
            0
        } else {
            usize::from(pos) % data.len()
        };
        match kind % 7 {
            0 if !data.is_empty() => data[at] ^= 1 << (byte % 8),
            1 if !data.is_empty() => data[at] = byte,
            2 => data
                .splice(at..at, std::iter::repeat_n(byte, usize::from(byte % 8) + 1))
                .for_each(drop),
            3 if !data.is_empty() => {
                let end = (at + usize::from(byte % 16) + 1).min(data.len());
                data.drain(at..end);
            }
            4 if !other.is_empty() => {
                let from = usize::from(pos) % other.len();
                let n = (usize::from(byte) + 1).min(other.len() - from);
                data.splice(at..at, other[from..from + n].iter().copied())
                    .for_each(drop);
            }
            5 => data.truncate(at),
            _ if !data.is_empty() => {
                let end = (at + usize::from(byte % 32) + 1).min(data.len());
                let copy = data[at..end].to_vec();
                data.splice(at..at, copy).for_each(drop);
            }
            _ => data.push(byte),
        }
    }
    data
}

/// Replays `target`'s seeds through `f`, then fuzzes it for the configured budget;
/// a panic fails the test with the shrunk input.
pub fn run(target: &str, f: fn(&[u8])) {
    let seeds = seeds(target);
    for s in &seeds {
        f(s);
    }
    let budget = Duration::from_secs(env_number("OSPREY_FUZZ_SECS", 3));
    // 0: as many as the time allows.
    let max_cases = match env_number("OSPREY_FUZZ_CASES", 20_000) {
        0 => u64::MAX,
        n => n,
    };
    let random = proptest::collection::vec(any::<u8>(), 0..4096).boxed();
    let strategy = if seeds.is_empty() {
        random
    } else {
        let n = seeds.len();
        let mutated = (0..n, 0..n, proptest::collection::vec(any::<Edit>(), 1..8))
            .prop_map(move |(i, j, edits)| mutate(seeds[i].clone(), &edits, &seeds[j]));
        prop_oneof![9 => mutated, 1 => random].boxed()
    };
    // Chunks of cases, each from its own fixed seed, until the budget is spent: the
    // same chunks run in the same order every time.
    let started = Instant::now();
    let (mut ran, mut chunk) = (0u64, 0u8);
    while ran < max_cases && started.elapsed() < budget {
        let cases = (max_cases - ran).min(CHUNK);
        let config = Config {
            cases: u32::try_from(cases).unwrap_or(u32::MAX),
            failure_persistence: None,
            ..Config::default()
        };
        let mut seed = [7u8; 32];
        seed[0] = chunk;
        let mut runner =
            TestRunner::new_with_rng(config, TestRng::from_seed(RngAlgorithm::ChaCha, &seed));
        if let Err(e) = runner.run(&strategy, |input| {
            f(&input);
            Ok(())
        }) {
            panic!("fuzz target {target} failed (chunk {chunk}): {e}");
        }
        ran += cases;
        chunk = chunk.wrapping_add(1);
    }
    let secs = started.elapsed().as_secs_f64();
    eprintln!("fuzz {target}: {ran} cases in {secs:.1} s");
    record(target, ran, secs);
}
