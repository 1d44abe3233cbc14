use rampart::engine::{ToolCall, command, compile, resolve::embedded};
fn main() {
    let p = compile(&embedded("standard").unwrap());
    let c = ToolCall::exec("git status");
    let t = std::time::Instant::now();
    for _ in 0..2000 {
        std::hint::black_box(p.evaluate(&c));
    }
    println!("eval {:?}", t.elapsed() / 2000);
    let t = std::time::Instant::now();
    for _ in 0..2000 {
        std::hint::black_box(command::grant_view("git status"));
    }
    println!("grant_view {:?}", t.elapsed() / 2000);
    let t = std::time::Instant::now();
    for _ in 0..2000 {
        std::hint::black_box(rampart::engine::shell::analyze("git status"));
    }
    println!("analyze {:?}", t.elapsed() / 2000);
    let t = std::time::Instant::now();
    for _ in 0..2000 {
        std::hint::black_box(command::rm_aliases("git status"));
        std::hint::black_box(command::alternate_readings("git status"));
        std::hint::black_box(command::body_variants("git status"));
        std::hint::black_box(command::normalize("git status"));
    }
    println!("group parts {:?}", t.elapsed() / 2000);
    let n: usize = p
        .policies
        .iter()
        .map(|p| {
            p.rules
                .iter()
                .map(|r| r.when.cmd.len() + r.when.contains.len())
                .sum::<usize>()
        })
        .sum();
    println!("cmd patterns {n}");
}
