//! `keyward import` (being written).

/// Arguments of `keyward import`.
#[derive(clap::Args, Debug)]
pub struct Args {}

pub fn run(_args: Args) -> u8 {
    eprintln!("keyward: import is not implemented yet");
    super::BAD_INPUT
}
