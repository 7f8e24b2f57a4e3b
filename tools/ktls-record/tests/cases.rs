// SPDX-License-Identifier: GPL-2.0

//! The shared record-layer cases (`rust/record/selftest.rs`), one `#[test]` each.
//!
//! KUnit runs the same cases in the module, generated from the same list.

/// Generates one test per case, and the list of their names.
macro_rules! record_cases {
    ($($case:ident),* $(,)?) => {
        $(
            #[test]
            fn $case() {
                if let Err(failure) = ktls_record::selftest::$case() {
                    panic!("{failure}");
                }
            }
        )*

        /// The names the macro lists, in its order.
        const LISTED_CASES: &[&str] = &[$(stringify!($case)),*];
    };
}

ktls_record::for_each_record_case!(record_cases);

/// Checks that every case function in selftest.rs is in the list exactly once, so none is
/// silently left out of KUnit or of this harness.
#[test]
fn every_case_is_listed_once() {
    let source = include_str!("../../../rust/record/selftest.rs");
    let defined: Vec<&str> = source
        .lines()
        .filter_map(|line| line.strip_prefix("pub fn "))
        .filter(|rest| rest.contains("-> CaseResult"))
        .filter_map(|rest| rest.split('(').next())
        .collect();
    let mut listed = LISTED_CASES.to_vec();
    listed.sort_unstable();
    let before = listed.len();
    listed.dedup();
    assert_eq!(before, listed.len(), "a case is listed twice");
    let mut defined_sorted = defined.clone();
    defined_sorted.sort_unstable();
    assert_eq!(
        defined_sorted, listed,
        "cases defined vs listed in for_each_record_case!"
    );
}
