//! How a run of an import ended: what the processor returns and the observers record.

/// How a worker's run of an import ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Finish {
    /// Every input was handled.
    Completed,
    /// Stopped early: requested, past the error threshold, or unreadable inputs.
    Interrupted(String),
    /// Handed back unfinished (shutdown, lost lease, storage unreachable): another run resumes it.
    Released(String),
}
