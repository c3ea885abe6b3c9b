//! View-only state: which pane, which row, which sort, whether the picture is frozen. The
//! data lives in the engine's [`Model`](crate::engine::model::Model); nothing here owns it
//! except a frozen copy while paused.

use crate::engine::alerts::Evidence;
use crate::engine::model::Model;
use crate::engine::report::ConnReport;

use super::theme::Theme;

pub use super::args::split_args;

/// The panes, one key each.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Pane {
    /// Ops, latency, deepest pipelines, memory, alerts.
    Overview,
    /// One row per client connection: wire metrics joined with CLIENT LIST.
    Connections,
    /// The server's SLOWLOG.
    Slowlog,
    /// INFO memory and the clients' buffers over time.
    Memory,
    /// Type a command, see the reply as redis-cli shows it.
    Console,
    /// MONITOR lines, when MONITOR is on.
    Monitor,
    /// The selected connection's recent segments, RESP-aware.
    Packets,
    /// Clients' batches on one time axis, and the server's execution order (MONITOR).
    Timeline,
    /// A workshop lab's results as they are measured (only while `respscope lab` runs).
    Lab,
    /// Keys.
    Help,
}

impl Pane {
    /// In tab order, which is key order.
    pub const ALL: [Pane; 10] = [
        Pane::Overview,
        Pane::Connections,
        Pane::Slowlog,
        Pane::Memory,
        Pane::Console,
        Pane::Monitor,
        Pane::Packets,
        Pane::Timeline,
        Pane::Lab,
        Pane::Help,
    ];

    /// The panes this model has tabs for: the Lab pane only while a lab runs.
    pub fn shown(model: &Model) -> Vec<Pane> {
        Pane::ALL.into_iter().filter(|p| *p != Pane::Lab || model.lab.is_some()).collect()
    }

    /// The key that selects it.
    pub fn key(self) -> char {
        match self {
            Pane::Overview => '1',
            Pane::Connections => '2',
            Pane::Slowlog => '3',
            Pane::Memory => '4',
            Pane::Console => '5',
            Pane::Monitor => '6',
            Pane::Packets => '7',
            Pane::Timeline => '8',
            Pane::Lab => '9',
            Pane::Help => '?',
        }
    }

    /// Its title in a narrow terminal.
    pub fn short_title(self) -> &'static str {
        match self {
            Pane::Overview => "Over",
            Pane::Connections => "Conns",
            Pane::Slowlog => "Slow",
            Pane::Memory => "Mem",
            Pane::Console => "Cmd",
            Pane::Monitor => "Mon",
            Pane::Packets => "Pkts",
            Pane::Timeline => "Time",
            Pane::Lab => "Lab",
            Pane::Help => "Help",
        }
    }

    /// Its title.
    pub fn title(self) -> &'static str {
        match self {
            Pane::Overview => "Overview",
            Pane::Connections => "Connections",
            Pane::Slowlog => "Slowlog",
            Pane::Memory => "Memory",
            Pane::Console => "Console",
            Pane::Monitor => "Monitor",
            Pane::Packets => "Packets",
            Pane::Timeline => "Timeline",
            Pane::Lab => "Lab",
            Pane::Help => "Help",
        }
    }
}

/// Columns the connections table sorts by.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SortBy {
    /// First seen.
    Age,
    /// Commands.
    Commands,
    /// Deepest pipeline.
    Depth,
    /// p99 latency.
    P99,
    /// Zero-window segments.
    ZeroWindows,
}

impl SortBy {
    /// The next column.
    pub fn next(self) -> SortBy {
        match self {
            SortBy::Age => SortBy::Commands,
            SortBy::Commands => SortBy::Depth,
            SortBy::Depth => SortBy::P99,
            SortBy::P99 => SortBy::ZeroWindows,
            SortBy::ZeroWindows => SortBy::Age,
        }
    }

    /// Its name in the table header.
    pub fn label(self) -> &'static str {
        match self {
            SortBy::Age => "first seen",
            SortBy::Commands => "commands",
            SortBy::Depth => "max depth",
            SortBy::P99 => "p99",
            SortBy::ZeroWindows => "zero windows",
        }
    }
}

/// Orders of the SLOWLOG table.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SlowSort {
    /// Newest entry first.
    Newest,
    /// Longest execution first.
    Slowest,
}

/// Orders of the memory pane's clients table.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MemSort {
    /// `tot-mem`.
    Total,
    /// Output buffer (`omem`).
    Output,
    /// Query buffer (`qbuf`).
    Query,
}

impl MemSort {
    /// Its name in the table title.
    pub fn label(self) -> &'static str {
        match self {
            MemSort::Total => "tot-mem",
            MemSort::Output => "omem",
            MemSort::Query => "qbuf",
        }
    }
}

/// View state.
#[derive(Clone, Debug)]
pub struct UiState {
    /// Pane shown.
    pub pane: Pane,
    /// Help shown over the pane.
    pub show_help: bool,
    /// Selected row in the connections table.
    pub selected: usize,
    /// Sort of the connections table.
    pub sort: SortBy,
    /// A copy of the model while paused; ingestion goes on behind it.
    pub frozen: Option<Box<Model>>,
    /// Colours (or none, with `NO_COLOR`).
    pub theme: Theme,
    /// Extra footer text (replay controls).
    pub footer_extra: Option<String>,
    /// The console pane's input line.
    pub input: String,
    /// Commands typed, oldest first, with their secrets replaced by `***`
    /// ([`super::args::history_entry`]): what Up brings back must not show a password.
    pub history: Vec<String>,
    /// Position in `history` while browsing it.
    pub history_pos: Option<usize>,
    /// The connections pane shows the selected connection in detail.
    pub detail: bool,
    /// Rows shown must contain this (case-insensitive); empty: all.
    pub filter: String,
    /// Keys go to the filter line (after `/`).
    pub filtering: bool,
    /// Order of the SLOWLOG table.
    pub slow_sort: SlowSort,
    /// Order of the memory pane's clients.
    pub mem_sort: MemSort,
    /// The timeline's zoom: ladder steps from the span that fits the segments kept.
    pub zoom: i32,
    /// Selected lane of the timeline.
    pub lane: usize,
    /// Wall clock for the header (UTC), set by the app each frame; none in tests.
    pub clock: Option<String>,
    /// `q` was pressed while MONITOR runs: the footer asks, a second `q` quits.
    pub confirm_quit: bool,
    /// Selected alert in the Overview (in [`AlertBook::shown`] order).
    pub alert_sel: usize,
    /// The SLOWLOG entry an alert jumped to, highlighted in the Slowlog pane.
    pub slow_mark: Option<u64>,
    /// Show respscope's own connections (poller, console, MONITOR) in tables and lanes.
    pub show_own: bool,
    /// First line shown of the detail's lists (window events, split commands).
    pub detail_scroll: usize,
}

impl Default for UiState {
    fn default() -> Self {
        UiState {
            pane: Pane::Overview,
            show_help: false,
            selected: 0,
            sort: SortBy::Age,
            frozen: None,
            theme: Theme::from_env(),
            footer_extra: None,
            input: String::new(),
            history: Vec::new(),
            history_pos: None,
            detail: false,
            filter: String::new(),
            filtering: false,
            slow_sort: SlowSort::Newest,
            mem_sort: MemSort::Total,
            zoom: 0,
            lane: 0,
            clock: None,
            confirm_quit: false,
            alert_sel: 0,
            slow_mark: None,
            show_own: false,
            detail_scroll: 0,
        }
    }
}

/// What a key asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    /// Leave (asking first while MONITOR runs).
    Quit,
    /// Leave now (Ctrl-C).
    QuitNow,
    /// Back out: close Help, clear the filter, leave a detail. Never quits.
    Back,
    /// Freeze or unfreeze the picture.
    TogglePause,
    /// Show a pane.
    Show(Pane),
    /// Next pane.
    NextPane,
    /// Previous pane.
    PrevPane,
    /// Move the selection.
    Down,
    /// Move the selection.
    Up,
    /// Next sort column.
    Sort,
    /// Toggle help.
    Help,
    /// Replay: faster.
    Faster,
    /// Replay: slower.
    Slower,
    /// Replay: one packet.
    Step,
    /// Replay: from the start.
    Restart,
    /// Demo: kill its redis-server and start it again on the same port.
    RestartServer,
    /// Save the last seconds of capture with an incident summary (the app's).
    SaveWindow,
    /// Start or stop MONITOR (the app's).
    ToggleMonitor,
    /// Open or close the selected connection's detail.
    Detail,
    /// Type a filter.
    Filter,
    /// Timeline: a narrower span.
    ZoomIn,
    /// Timeline: a wider span.
    ZoomOut,
    /// Show or hide respscope's own connections.
    ToggleOwn,
    /// Scroll a detail's lists down this many lines.
    ScrollDown(usize),
    /// Scroll them up.
    ScrollUp(usize),
    /// To their first line.
    ScrollTop,
    /// To their last lines.
    ScrollEnd,
}

/// What a key does in the console pane's input line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Edit {
    /// The line changed; nothing to send.
    Changed,
    /// Send this command line.
    Submit(String),
    /// Leave the console pane.
    Leave,
    /// Not an editing key: let the keymap have it.
    Pass,
}

impl UiState {
    /// Edits the filter line while `filtering`: enter keeps it, esc clears it.
    pub fn filter_key(&mut self, code: crossterm::event::KeyCode) {
        use crossterm::event::KeyCode as K;
        match code {
            K::Char(c) if self.filter.len() < 256 => {
                self.filter.push(c);
                self.selected = 0;
                self.lane = 0;
            }
            K::Backspace => {
                self.filter.pop();
            }
            K::Enter => self.filtering = false,
            K::Esc => {
                self.filter.clear();
                self.filtering = false;
            }
            _ => {}
        }
    }

    /// A row made of these texts passes the filter.
    pub fn passes(&self, texts: &[&str]) -> bool {
        if self.filter.is_empty() {
            return true;
        }
        let needle = self.filter.to_lowercase();
        texts.iter().any(|t| t.to_lowercase().contains(&needle))
    }

    /// Edits the input line with a key (the console pane takes every printable key).
    pub fn edit(&mut self, code: crossterm::event::KeyCode, ctrl: bool) -> Edit {
        use crossterm::event::KeyCode as K;
        match code {
            K::Char(_) if ctrl => Edit::Pass,
            K::Char(c) => {
                if self.input.len() < 4096 {
                    self.input.push(c);
                }
                Edit::Changed
            }
            K::Backspace => {
                self.input.pop();
                Edit::Changed
            }
            K::Esc => Edit::Leave,
            K::Enter => {
                let line = std::mem::take(&mut self.input);
                self.history_pos = None;
                if line.trim().is_empty() {
                    return Edit::Changed;
                }
                let kept = super::args::history_entry(&line);
                if self.history.last() != Some(&kept) {
                    self.history.push(kept);
                    if self.history.len() > 200 {
                        self.history.remove(0);
                    }
                }
                Edit::Submit(line)
            }
            K::Up | K::Down => {
                if self.history.is_empty() {
                    return Edit::Changed;
                }
                let last = self.history.len() - 1;
                let pos = match (self.history_pos, code == K::Up) {
                    (None, true) => Some(last),
                    (None, false) => None,
                    (Some(p), true) => Some(p.saturating_sub(1)),
                    (Some(p), false) if p >= last => None,
                    (Some(p), false) => Some(p + 1),
                };
                self.history_pos = pos;
                self.input = pos.and_then(|p| self.history.get(p).cloned()).unwrap_or_default();
                Edit::Changed
            }
            _ => Edit::Pass,
        }
    }
}

/// The keymap: one place, no per-mode chains.
pub fn action_for(code: crossterm::event::KeyCode, ctrl: bool) -> Option<Action> {
    use crossterm::event::KeyCode as K;
    Some(match code {
        K::Char('c') if ctrl => Action::QuitNow,
        K::Char('q') => Action::Quit,
        K::Esc => Action::Back,
        K::Char('p') | K::Char(' ') => Action::TogglePause,
        K::Char('1') => Action::Show(Pane::Overview),
        K::Char('2') => Action::Show(Pane::Connections),
        K::Char('3') => Action::Show(Pane::Slowlog),
        K::Char('4') => Action::Show(Pane::Memory),
        K::Char('5') | K::Char(':') => Action::Show(Pane::Console),
        K::Char('6') => Action::Show(Pane::Monitor),
        K::Char('7') => Action::Show(Pane::Packets),
        K::Char('8') => Action::Show(Pane::Timeline),
        K::Char('9') => Action::Show(Pane::Lab),
        K::Char('/') => Action::Filter,
        K::Char('z') => Action::ZoomIn,
        K::Char('Z') => Action::ZoomOut,
        K::Char('m') => Action::ToggleMonitor,
        K::Char('o') => Action::ToggleOwn,
        K::PageDown => Action::ScrollDown(10),
        K::PageUp => Action::ScrollUp(10),
        K::Home => Action::ScrollTop,
        K::End => Action::ScrollEnd,
        K::Enter => Action::Detail,
        K::Char('?') | K::Char('h') => Action::Help,
        K::Tab | K::Right => Action::NextPane,
        K::BackTab | K::Left => Action::PrevPane,
        K::Char('j') | K::Down => Action::Down,
        K::Char('k') | K::Up => Action::Up,
        K::Char('s') => Action::Sort,
        K::Char('+') | K::Char('f') => Action::Faster,
        K::Char('-') => Action::Slower,
        K::Char('.') => Action::Step,
        K::Char('r') => Action::Restart,
        K::Char('R') => Action::RestartServer,
        K::Char('w') => Action::SaveWindow,
        _ => return None,
    })
}

impl UiState {
    /// Applies a view action; returns true to quit. Replay actions are the app's.
    pub fn apply(&mut self, a: Action, live: &Model) -> bool {
        let confirming = std::mem::take(&mut self.confirm_quit);
        match a {
            Action::QuitNow => return true,
            // The app's: it owns the demo's server.
            Action::RestartServer | Action::SaveWindow => {}
            // Quitting ends the MONITOR session and every picture: ask once.
            Action::Quit if live.monitor_on && !confirming => self.confirm_quit = true,
            Action::Quit => return true,
            Action::Back => {
                if self.show_help {
                    self.show_help = false;
                } else if !self.filter.is_empty() {
                    self.filter.clear();
                } else if self.detail {
                    self.detail = false;
                } else if self.pane == Pane::Help {
                    self.pane = Pane::Overview;
                }
            }
            Action::TogglePause => {
                self.frozen = match self.frozen.take() {
                    Some(_) => None,
                    None => Some(Box::new(live.clone())),
                }
            }
            // The Lab pane is there only while a lab runs.
            Action::Show(Pane::Lab) if live.lab.is_none() => {}
            Action::Show(p) => {
                self.pane = p;
                self.show_help = false;
                self.detail = false;
            }
            Action::NextPane | Action::PrevPane => {
                let panes = Pane::shown(live);
                let i = panes.iter().position(|p| *p == self.pane).unwrap_or(0);
                let n = panes.len();
                let j = if a == Action::NextPane { (i + 1) % n } else { (i + n - 1) % n };
                self.pane = panes[j];
                self.show_help = false;
            }
            Action::Down if self.pane == Pane::Timeline => self.lane = self.lane.saturating_add(1),
            Action::Up if self.pane == Pane::Timeline => self.lane = self.lane.saturating_sub(1),
            // In a detail, j/k scroll its lists: the selected connection stays.
            Action::Down if self.detail => {
                self.detail_scroll = self.detail_scroll.saturating_add(1).min(self.detail_lines(live))
            }
            Action::Up if self.detail => self.detail_scroll = self.detail_scroll.saturating_sub(1),
            Action::ScrollDown(n) => {
                self.detail_scroll = self.detail_scroll.saturating_add(n).min(self.detail_lines(live))
            }
            Action::ScrollUp(n) => self.detail_scroll = self.detail_scroll.saturating_sub(n),
            Action::ScrollTop => self.detail_scroll = 0,
            // The screen shows the last lines from any start past them.
            Action::ScrollEnd => self.detail_scroll = self.detail_lines(live),
            Action::Down if self.pane == Pane::Overview => {
                let n = self.shown(live).alerts.len();
                self.alert_sel = (self.alert_sel + 1).min(n.saturating_sub(1));
            }
            Action::Up if self.pane == Pane::Overview => self.alert_sel = self.alert_sel.saturating_sub(1),
            Action::Down => self.selected = self.selected.saturating_add(1),
            Action::Up => self.selected = self.selected.saturating_sub(1),
            Action::Sort => match self.pane {
                Pane::Slowlog => {
                    self.slow_sort =
                        if self.slow_sort == SlowSort::Newest { SlowSort::Slowest } else { SlowSort::Newest }
                }
                Pane::Memory => {
                    self.mem_sort = match self.mem_sort {
                        MemSort::Total => MemSort::Output,
                        MemSort::Output => MemSort::Query,
                        MemSort::Query => MemSort::Total,
                    }
                }
                _ => self.sort = self.sort.next(),
            },
            Action::Filter => self.filtering = true,
            Action::ZoomIn => self.zoom = (self.zoom - 1).max(-16),
            Action::ZoomOut => self.zoom = (self.zoom + 1).min(16),
            Action::ToggleOwn => self.show_own = !self.show_own,
            Action::Help => self.show_help = !self.show_help,
            Action::Detail if self.pane == Pane::Overview => self.jump_to_evidence(live),
            Action::Detail => {
                self.detail = self.pane == Pane::Connections && !self.detail;
                self.detail_scroll = 0;
            }
            Action::Faster | Action::Slower | Action::Step | Action::Restart | Action::ToggleMonitor => {}
        }
        false
    }

    /// Lines of the selected connection's detail lists; scrolling stays within them, so
    /// scrolling back up from the end starts moving at once.
    fn detail_lines(&self, live: &Model) -> usize {
        let m = self.shown(live);
        let conns = sorted_connections(m, self);
        conns
            .get(self.selected.min(conns.len().saturating_sub(1)))
            .map_or(0, |c| c.window_events.len() + c.splits.len())
    }

    /// Shows the evidence of the selected alert: its connection's detail, its SLOWLOG entry,
    /// the Memory pane.
    fn jump_to_evidence(&mut self, live: &Model) {
        let m = self.shown(live);
        let Some(a) = m.alerts.shown().get(self.alert_sel).copied() else { return };
        match a.evidence.clone() {
            Evidence::Connection(addr) => {
                self.filter.clear();
                self.pane = Pane::Connections;
                let m = self.shown(live);
                let pos = sorted_connections(m, self).iter().position(|c| c.client == addr);
                if let Some(i) = pos {
                    self.selected = i;
                    self.detail = true;
                }
            }
            Evidence::Slowlog(id) => {
                self.filter.clear();
                self.pane = Pane::Slowlog;
                self.slow_sort = SlowSort::Newest;
                self.slow_mark = Some(id);
            }
            Evidence::Memory => self.pane = Pane::Memory,
            Evidence::Overview => {}
        }
    }

    /// The model to draw: the frozen copy while paused.
    pub fn shown<'a>(&'a self, live: &'a Model) -> &'a Model {
        self.frozen.as_deref().unwrap_or(live)
    }
}

/// A connection passes the filter by its address, its CLIENT LIST name, library or last
/// command, or what it announced on the wire (library, version, name).
pub fn conn_passes(m: &Model, ui: &UiState, c: &ConnReport) -> bool {
    // respscope's own connections (poller, console, MONITOR) only when asked (`o`).
    if !ui.show_own && m.is_own(&c.client) {
        return false;
    }
    if ui.filter.is_empty() {
        return true;
    }
    // By who it was, too, once it has closed.
    let row = m.identity(&c.client);
    let announced = c.library.as_ref().map(|l| l.describe()).unwrap_or_default();
    ui.passes(&[
        &c.client,
        row.map_or("", |r| r.name.as_str()),
        row.and_then(|r| r.lib_name.as_deref()).unwrap_or(""),
        row.map_or("", |r| r.cmd.as_str()),
        &announced,
    ])
}

/// The connections in the table's order.
pub fn sorted_connections<'a>(m: &'a Model, ui: &UiState) -> Vec<&'a ConnReport> {
    let mut conns: Vec<&ConnReport> =
        m.connections().iter().map(|c| &**c).filter(|c| conn_passes(m, ui, c)).collect();
    match ui.sort {
        SortBy::Age => {}
        SortBy::Commands => conns.sort_by_key(|c| std::cmp::Reverse(c.commands)),
        SortBy::Depth => conns.sort_by_key(|c| std::cmp::Reverse(c.max_pipeline_depth)),
        SortBy::P99 => conns.sort_by_key(|c| std::cmp::Reverse(c.latency_us.p99)),
        SortBy::ZeroWindows => conns.sort_by_key(|c| std::cmp::Reverse(c.tcp.zero_windows)),
    }
    conns
}

#[cfg(test)]
mod tests {
    use super::*;
    use crossterm::event::KeyCode as K;

    fn type_line(ui: &mut UiState, line: &str) -> Edit {
        for c in line.chars() {
            ui.edit(K::Char(c), false);
        }
        ui.edit(K::Enter, false)
    }

    #[test]
    fn history_brings_back_commands_with_secrets_hidden() {
        let mut ui = UiState::default();
        // The command itself goes to the server as typed.
        assert_eq!(
            type_line(&mut ui, "HELLO 3 AUTH default pw"),
            Edit::Submit("HELLO 3 AUTH default pw".into())
        );
        type_line(&mut ui, "GET k");
        ui.edit(K::Up, false);
        assert_eq!(ui.input, "GET k");
        ui.edit(K::Up, false);
        assert_eq!(ui.input, "HELLO 3 AUTH *** ***");
        assert!(ui.history.iter().all(|h| !h.contains("pw")), "{:?}", ui.history);
    }

    #[test]
    fn r_restarts_a_replay_and_shift_r_the_demos_server() {
        assert_eq!(action_for(K::Char('r'), false), Some(Action::Restart));
        assert_eq!(action_for(K::Char('R'), false), Some(Action::RestartServer));
        // The app's to carry out: the view neither changes nor quits.
        let mut ui = UiState::default();
        assert!(!ui.apply(Action::RestartServer, &Model::default()));
        assert_eq!(ui.pane, Pane::Overview);
    }
}
