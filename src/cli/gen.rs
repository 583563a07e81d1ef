//! `keyward gen` (being written).

/// Arguments of `keyward gen`.
#[derive(clap::Args, Debug)]
pub struct Args {}

pub fn run(_args: Args) -> u8 {
    eprintln!("keyward: gen is not implemented yet");
    super::BAD_INPUT
}
