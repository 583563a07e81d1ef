//! Placeholder: the serve module is being written.
