//! `keyward bench` (being written).

/// Arguments of `keyward bench`.
#[derive(clap::Args, Debug)]
pub struct Args {}

pub fn run(_args: Args) -> u8 {
    eprintln!("keyward: bench is not implemented yet");
    super::BAD_INPUT
}
