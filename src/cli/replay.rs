//! `keyward replay` (being written).

/// Arguments of `keyward replay`.
#[derive(clap::Args, Debug)]
pub struct Args {}

pub fn run(_args: Args) -> u8 {
    eprintln!("keyward: replay is not implemented yet");
    super::BAD_INPUT
}
