//! The `keyward` command; see `keyward --help`.

fn main() -> std::process::ExitCode {
    keyward::cli::main()
}
