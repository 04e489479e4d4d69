fn main() {
    std::process::exit(systrade::cli::main());
}
