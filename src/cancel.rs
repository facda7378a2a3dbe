//! Cooperative cancellation of long computations.
//!
//! The server gives up on an analysis when its request times out (or the
//! client goes away); without cancellation the blocking thread would go on
//! computing for nobody, holding memory and a core. The caller that may give
//! up runs the work inside [`scope`] with a [`Token`], and the long loops
//! (grid building, kernel density, spatial weights, Gi*, Local Moran
//! permutations, DBSCAN, coverage) ask [`check`] every few thousand
//! iterations and return [`Cancelled`] once the token is cancelled.
//!
//! Why a thread-local rather than a parameter: the loops sit deep in call
//! trees with many public entry points; threading a token through every
//! signature would touch most of `analysis/` and `grid/` for a concern the
//! command line never has. Rayon workers do not see the caller's
//! thread-local, so a parallel loop takes the token with [`current`] before
//! it starts and tests [`Token::stopped`] inside (skipping the rest of its
//! work), then calls [`check`] after it. Outside a scope (the command line)
//! a check is one thread-local read and never fails.

use std::cell::RefCell;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// The computation was cancelled: whoever asked for it has given up.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the computation was cancelled (its request timed out or was abandoned)")]
pub struct Cancelled;

/// A cancellation flag shared between the computation and whoever may give
/// up on it. The default token can never be cancelled.
#[derive(Debug, Clone, Default)]
pub struct Token(Option<Arc<AtomicBool>>);

impl Token {
    /// A new token, not cancelled.
    pub fn new() -> Token {
        Token(Some(Arc::new(AtomicBool::new(false))))
    }

    /// Cancels every computation running with this token (or a clone).
    pub fn cancel(&self) {
        if let Some(f) = &self.0 {
            f.store(true, Ordering::Relaxed);
        }
    }

    /// Whether the token was cancelled.
    pub fn stopped(&self) -> bool {
        self.0.as_ref().is_some_and(|f| f.load(Ordering::Relaxed))
    }

    /// `Err(Cancelled)` once the token was cancelled.
    pub fn check(&self) -> Result<(), Cancelled> {
        if self.stopped() {
            Err(Cancelled)
        } else {
            Ok(())
        }
    }

    /// A guard that cancels this token when dropped: held by the future that
    /// awaits the computation, so that dropping the future (a timeout, a
    /// closed connection) stops the work.
    pub fn cancel_on_drop(&self) -> CancelOnDrop {
        CancelOnDrop(self.clone())
    }
}

/// Cancels its token when dropped (see [`Token::cancel_on_drop`]).
#[derive(Debug)]
pub struct CancelOnDrop(Token);

impl CancelOnDrop {
    /// Leaves the token as it is: the computation finished and was awaited.
    pub fn disarm(mut self) {
        self.0 = Token::default();
    }
}

impl Drop for CancelOnDrop {
    fn drop(&mut self) {
        self.0.cancel();
    }
}

thread_local! {
    static CURRENT: RefCell<Token> = RefCell::new(Token::default());
}

/// Runs `f` on this thread with `token` as the current token (restored
/// afterwards, also when `f` panics).
pub fn scope<T>(token: Token, f: impl FnOnce() -> T) -> T {
    struct Restore(Option<Token>);
    impl Drop for Restore {
        fn drop(&mut self) {
            if let Some(t) = self.0.take() {
                CURRENT.with(|c| *c.borrow_mut() = t);
            }
        }
    }
    let previous = CURRENT.with(|c| c.replace(token));
    let _restore = Restore(Some(previous));
    f()
}

/// This thread's current token (the default one outside [`scope`]): take it
/// before a parallel loop, whose workers do not see the thread-local.
pub fn current() -> Token {
    CURRENT.with(|c| c.borrow().clone())
}

/// `Err(Cancelled)` when this thread's current token was cancelled.
pub fn check() -> Result<(), Cancelled> {
    CURRENT.with(|c| c.borrow().check())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scoped_token_is_seen_and_restored() {
        assert_eq!(check(), Ok(()));
        let t = Token::new();
        let inner = t.clone();
        let r = scope(t.clone(), || {
            assert_eq!(check(), Ok(()));
            // Another thread gives up while this one computes.
            std::thread::spawn(move || inner.cancel()).join().unwrap();
            let seen_in_parallel = current().stopped();
            (check(), seen_in_parallel)
        });
        assert_eq!(r, (Err(Cancelled), true));
        // Outside the scope nothing is cancelled any more.
        assert_eq!(check(), Ok(()));
        assert!(!current().stopped());
        // Restored after a panic too.
        let t = Token::new();
        t.cancel();
        let _ = std::panic::catch_unwind(|| scope(t, || panic!("boom")));
        assert_eq!(check(), Ok(()));
    }

    #[test]
    fn dropping_the_guard_cancels_unless_disarmed() {
        let t = Token::new();
        drop(t.cancel_on_drop());
        assert!(t.stopped());
        let t = Token::new();
        t.cancel_on_drop().disarm();
        assert!(!t.stopped());
        // The default token never stops.
        let d = Token::default();
        d.cancel();
        assert_eq!(d.check(), Ok(()));
    }
}
