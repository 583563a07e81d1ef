//! Placeholder: the replay module is being written.
