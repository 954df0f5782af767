//! Values by request index, kept in a fixed number of cells whatever the indices are: one
//! index per cell while they fit, and past the last cell neighbouring cells merge (each then
//! covers twice the indices). So a picture of a million records, or of an index of 2^60, is
//! drawn from bounded memory, and has no more marks than its panel has pixels.

/// What a cell holds: values that merge (a min and max, sums for a mean).
pub(crate) trait Merge: Copy {
    fn merge(self, other: Self) -> Self;
}

/// At most `cells` cells of `T` by index.
#[derive(Debug, Clone)]
pub(crate) struct Bins<T> {
    /// Indices per cell: a power of two.
    width: u64,
    cells: Vec<Option<T>>,
    /// The largest index seen.
    last: Option<u64>,
}

impl<T: Merge> Bins<T> {
    /// Empty, with at most `cells` cells (at least 2).
    pub(crate) fn new(cells: usize) -> Self {
        Bins {
            width: 1,
            cells: vec![None; cells.max(2)],
            last: None,
        }
    }

    /// Add `value` at `index` (in any order).
    pub(crate) fn add(&mut self, index: u64, value: T) {
        while index / self.width >= self.cells.len() as u64 {
            self.merge();
        }
        let cell = &mut self.cells[(index / self.width) as usize];
        *cell = Some(match *cell {
            None => value,
            Some(held) => held.merge(value),
        });
        self.last = Some(self.last.map_or(index, |last| last.max(index)));
    }

    fn merge(&mut self) {
        let n = self.cells.len();
        for i in 0..n {
            self.cells[i] = if i < n / 2 {
                match (self.cells[2 * i], self.cells[2 * i + 1]) {
                    (Some(a), Some(b)) => Some(a.merge(b)),
                    (one, None) | (None, one) => one,
                }
            } else {
                None
            };
        }
        self.width = self.width.saturating_mul(2);
    }

    /// Indices the values span: the largest one plus one.
    pub(crate) fn span(&self) -> f64 {
        self.last.map_or(1.0, |last| last as f64 + 1.0)
    }

    /// Indices per cell.
    pub(crate) fn width(&self) -> u64 {
        self.width
    }

    /// The filled cells: the first index each covers, and its value.
    pub(crate) fn cells(&self) -> impl Iterator<Item = (f64, T)> + '_ {
        self.cells
            .iter()
            .enumerate()
            .filter_map(|(i, cell)| cell.map(|value| (i as f64 * self.width as f64, value)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    impl Merge for u64 {
        fn merge(self, other: Self) -> Self {
            self + other
        }
    }

    #[test]
    fn the_cells_stay_as_many_whatever_the_index_and_merging_keeps_every_value() {
        let mut bins = Bins::new(8);
        for i in 0..8u64 {
            bins.add(i, 1);
        }
        assert_eq!(bins.width(), 1, "one index per cell while they fit");
        bins.add(u64::MAX, 1);
        bins.add(1 << 40, 1);
        assert_eq!(bins.cells.len(), 8);
        assert!(bins.width() >= u64::MAX / 8, "{}", bins.width());
        assert_eq!(bins.cells().map(|(_, n)| n).sum::<u64>(), 10);
        assert_eq!(bins.span(), u64::MAX as f64 + 1.0);
    }
}
