//! Placeholder until the live view lands (helper branch h-live).

use gotrace_analyzer::bundle::Event;

pub struct LiveView;

impl LiveView {
    pub fn stderr(_start_ns: u64) -> LiveView {
        LiveView
    }
    pub fn show(&mut self, _ev: &Event) {}
}
