//! Styles, or none at all when `NO_COLOR` is set (https://no-color.org).

use ratatui::style::{Color, Modifier, Style};

/// The console's styles.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Theme {
    /// Header line.
    pub header: Style,
    /// The product name.
    pub title: Style,
    /// Selected tab or row.
    pub selected: Style,
    /// Secondary text.
    pub dim: Style,
    /// Something wrong.
    pub bad: Style,
    /// Something to look at.
    pub warn: Style,
    /// Good.
    pub good: Style,
    /// Colours are on (lanes of the Timeline get one each).
    pub colour: bool,
}

/// Lane colours, in turn.
const LANES: [Color; 6] =
    [Color::Cyan, Color::Magenta, Color::Green, Color::Yellow, Color::Blue, Color::LightRed];

impl Theme {
    /// The style of the `i`-th client's lane (plain without colours: the lane letter tells).
    pub fn lane(&self, i: usize) -> Style {
        if self.colour {
            Style::default().fg(LANES[i % LANES.len()])
        } else {
            Style::default()
        }
    }

    /// Colours unless `NO_COLOR` is set.
    pub fn from_env() -> Theme {
        if std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty()) {
            Theme::plain()
        } else {
            Theme::colour()
        }
    }

    /// With colours.
    pub fn colour() -> Theme {
        Theme {
            header: Style::default().fg(Color::White).bg(Color::DarkGray),
            title: Style::default().fg(Color::Black).bg(Color::Cyan).add_modifier(Modifier::BOLD),
            selected: Style::default().fg(Color::Black).bg(Color::Cyan),
            dim: Style::default().fg(Color::Gray),
            bad: Style::default().fg(Color::White).bg(Color::Red).add_modifier(Modifier::BOLD),
            warn: Style::default().fg(Color::Yellow),
            good: Style::default().fg(Color::Green),
            colour: true,
        }
    }

    /// Without colours: emphasis by reverse video and bold only.
    pub fn plain() -> Theme {
        let none = Style::default();
        Theme {
            header: none,
            title: none.add_modifier(Modifier::BOLD),
            selected: none.add_modifier(Modifier::REVERSED),
            dim: none,
            bad: none.add_modifier(Modifier::BOLD),
            warn: none,
            good: none,
            colour: false,
        }
    }
}
