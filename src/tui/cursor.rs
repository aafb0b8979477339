//! Selection and scroll offset of a list drawn `height` rows at a time. Kept in the app
//! state (not in ratatui's `TableState`) so rendering stays a pure read and scrolling is
//! tested without a terminal.

/// Where a move ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Moved {
    /// Inside the list (possibly clamped to an end).
    Within,
    /// Already on the first row and asked to go further up.
    PastStart,
    /// Already on the last row and asked to go further down.
    PastEnd,
}

/// A selected row and the first visible row.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Cursor {
    /// Index of the selected row.
    pub selected: usize,
    /// Index of the first row drawn.
    pub offset: usize,
}

impl Cursor {
    /// Moves by `delta` rows, clamping at the ends; reports a push past an end.
    pub fn move_by(&mut self, delta: isize, len: usize, height: usize) -> Moved {
        if len == 0 {
            *self = Self::default();
            return if delta < 0 {
                Moved::PastStart
            } else {
                Moved::PastEnd
            };
        }
        let last = len - 1;
        let moved = if delta < 0 && self.selected == 0 {
            Moved::PastStart
        } else if delta > 0 && self.selected >= last {
            Moved::PastEnd
        } else {
            Moved::Within
        };
        let target = self.selected as isize + delta;
        self.selected = target.clamp(0, last as isize) as usize;
        self.follow(height);
        moved
    }

    /// Selects `index` (clamped).
    pub fn select(&mut self, index: usize, len: usize, height: usize) {
        self.selected = index.min(len.saturating_sub(1));
        self.follow(height);
    }

    /// First row.
    pub fn top(&mut self) {
        *self = Self::default();
    }

    /// Last row.
    pub fn bottom(&mut self, len: usize, height: usize) {
        self.select(len.saturating_sub(1), len, height);
    }

    /// Re-applies the bounds after the list or the viewport changed.
    pub fn clamp(&mut self, len: usize, height: usize) {
        self.select(self.selected, len, height);
        // Do not leave blank rows below the end when the list shrank.
        let max_offset = len.saturating_sub(height.max(1));
        self.offset = self.offset.min(max_offset);
        self.follow(height);
    }

    /// Scrolls just enough to keep the selection visible.
    fn follow(&mut self, height: usize) {
        let height = height.max(1);
        if self.selected < self.offset {
            self.offset = self.selected;
        } else if self.selected >= self.offset + height {
            self.offset = self.selected + 1 - height;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn moves_clamp_and_report_the_edges() {
        let mut c = Cursor::default();
        assert_eq!(c.move_by(-1, 10, 3), Moved::PastStart);
        assert_eq!(c.move_by(5, 10, 3), Moved::Within);
        assert_eq!(
            c,
            Cursor {
                selected: 5,
                offset: 3
            }
        );
        assert_eq!(c.move_by(100, 10, 3), Moved::Within);
        assert_eq!(c.selected, 9);
        assert_eq!(c.move_by(1, 10, 3), Moved::PastEnd);
        assert_eq!(c.offset, 7);
        assert_eq!(c.move_by(-8, 10, 3), Moved::Within);
        assert_eq!(
            c,
            Cursor {
                selected: 1,
                offset: 1
            }
        );
    }

    #[test]
    fn clamp_follows_a_shrinking_list() {
        let mut c = Cursor {
            selected: 9,
            offset: 7,
        };
        c.clamp(4, 3);
        assert_eq!(
            c,
            Cursor {
                selected: 3,
                offset: 1
            }
        );
        c.clamp(0, 3);
        assert_eq!(c, Cursor::default());
    }
}
