//! Size limits every glob field shares (spec/engine.md §2.7), checked at load time.
//!
//! Self-contained (std and `thiserror` only) so that `build.rs` can validate the embedded
//! profiles with the very same code.

/// Longest pattern accepted by any glob field.
pub const MAX_PATTERN_BYTES: usize = 8192;
/// Longest pattern accepted when it contains `**`.
pub const MAX_DOUBLESTAR_PATTERN_BYTES: usize = 256;
/// Most `**` occurrences a pattern may contain (`***` counts once).
pub const MAX_DOUBLESTARS: usize = 2;
/// Longest value any glob is matched against.
pub const MAX_VALUE_BYTES: usize = 8192;

/// Why a pattern was rejected at load time.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GlobLimitError {
    /// Pattern longer than [`MAX_PATTERN_BYTES`].
    #[error("pattern is {0} bytes (max {MAX_PATTERN_BYTES})")]
    TooLong(usize),
    /// `**` pattern longer than [`MAX_DOUBLESTAR_PATTERN_BYTES`].
    #[error("double-star pattern is {0} bytes (max {MAX_DOUBLESTAR_PATTERN_BYTES})")]
    DoubleStarTooLong(usize),
    /// More than [`MAX_DOUBLESTARS`] `**` runs.
    #[error("pattern {0:?} has {1} ** occurrences (max {MAX_DOUBLESTARS})")]
    TooManyDoubleStars(String, usize),
}

/// Counts `**` runs: `***` is one occurrence, `** **` two.
fn doublestar_runs(p: &str) -> usize {
    let b = p.as_bytes();
    let (mut n, mut i) = (0, 0);
    while i < b.len() {
        if b[i] == b'*' {
            let start = i;
            while i < b.len() && b[i] == b'*' {
                i += 1;
            }
            if i - start >= 2 {
                n += 1;
            }
        } else {
            i += 1;
        }
    }
    n
}

/// Checks the size limits every glob field shares (spec §2.7).
pub fn check_limits(pattern: &str) -> Result<(), GlobLimitError> {
    if pattern.len() > MAX_PATTERN_BYTES {
        return Err(GlobLimitError::TooLong(pattern.len()));
    }
    let runs = doublestar_runs(pattern);
    if runs > 0 && pattern.len() > MAX_DOUBLESTAR_PATTERN_BYTES {
        return Err(GlobLimitError::DoubleStarTooLong(pattern.len()));
    }
    if runs > MAX_DOUBLESTARS {
        return Err(GlobLimitError::TooManyDoubleStars(
            pattern.to_string(),
            runs,
        ));
    }
    Ok(())
}
