fn hwm(what: &str) {
    let s = std::fs::read_to_string("/proc/self/status").unwrap();
    let l: Vec<&str> = s
        .lines()
        .filter(|l| l.starts_with("VmHWM") || l.starts_with("VmRSS"))
        .collect();
    eprintln!("{what}: {l:?}");
}
fn main() {
    let dir = std::path::PathBuf::from(std::env::args().nth(1).unwrap());
    eprintln!(
        "Event {} Op {} Attempt {} Step {}",
        std::mem::size_of::<gotrace_bundle::Event>(),
        std::mem::size_of::<gotrace_bundle::Op>(),
        std::mem::size_of::<gotrace_analyzer::correlate::Attempt>(),
        std::mem::size_of::<gotrace_analyzer::correlate::Step>()
    );
    let b = gotrace_bundle::read_bundle(&dir).unwrap();
    hwm("read");
    let clock = gotrace_analyzer::clock::Clock::of(&b.meta);
    let ev = b.events.as_deref().unwrap();
    let c = gotrace_analyzer::correlate::correlate_bundle(ev, None, &clock, &b.meta);
    hwm("correlated");
    eprintln!(
        "attempts {} steps {}",
        c.attempts.len(),
        c.attempts.iter().map(|a| a.steps.len()).sum::<usize>()
    );
    drop(b);
    hwm("events dropped");
}
