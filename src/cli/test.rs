//! `keyward test`: run test cases and end with `N passed, M failed`.

use super::{BAD_INPUT, FAILED, OK};
use crate::testcase::{load_cases, Evaluator, Runner};
use std::path::PathBuf;

pub fn run(paths: &[PathBuf], verbose: bool, evaluator: Evaluator) -> u8 {
    let mut cases = Vec::new();
    for p in paths {
        match load_cases(p) {
            Ok(c) => cases.extend(c),
            Err(e) => {
                eprintln!("keyward: {e}");
                return BAD_INPUT;
            }
        }
    }
    let mut runner = Runner::new(evaluator);
    let (mut passed, mut failed) = (0usize, 0usize);
    for case in &cases {
        let result = runner.run(case);
        if result.passed {
            passed += 1;
            if verbose {
                println!("ok    {} ({})", case.name, case.origin);
            }
        } else {
            failed += 1;
            println!("FAIL  {} ({})", case.name, case.origin);
            if let Some(why) = &case.why {
                println!("  why:      {why}");
            }
            print!("{}", result.report);
        }
    }
    println!("{passed} passed, {failed} failed");
    if failed > 0 {
        FAILED
    } else {
        OK
    }
}
