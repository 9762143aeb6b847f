//! PyO3 layer (in progress).
