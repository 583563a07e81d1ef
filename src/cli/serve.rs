//! `keyward serve` (being written).

/// Arguments of `keyward serve`.
#[derive(clap::Args, Debug)]
pub struct Args {}

pub fn run(_args: Args) -> u8 {
    eprintln!("keyward: serve is not implemented yet");
    super::BAD_INPUT
}
