//! Seeded, reproducible shuffling: shard order is permuted, then samples pass through a
//! buffer from which they leave in random order (the WebDataset scheme). The same seed and
//! epoch give the same order on every machine.

use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// Options of shuffled iteration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ShuffleOptions {
    /// Seed of the random order.
    pub seed: u64,
    /// Epoch: mixed into the seed so that each epoch has its own order.
    pub epoch: u64,
    /// Samples held in the shuffle buffer (larger mixes better and costs memory).
    pub buffer_size: usize,
}

impl Default for ShuffleOptions {
    fn default() -> Self {
        ShuffleOptions {
            seed: 0,
            epoch: 0,
            buffer_size: 10_000,
        }
    }
}

impl ShuffleOptions {
    pub(crate) fn rng(&self) -> ChaCha8Rng {
        // Different streams for different epochs of the same seed.
        let mut rng = ChaCha8Rng::seed_from_u64(self.seed);
        rng.set_stream(self.epoch);
        rng
    }
}

/// Permutes `items` with `rng`.
pub(crate) fn permute<T>(items: &mut [T], rng: &mut ChaCha8Rng) {
    items.shuffle(rng);
}

/// An iterator that yields the items of `inner` in buffered random order.
pub struct BufferShuffle<I: Iterator> {
    inner: I,
    buffer: Vec<I::Item>,
    size: usize,
    rng: ChaCha8Rng,
    exhausted: bool,
}

impl<I: Iterator> BufferShuffle<I> {
    /// Shuffles `inner` through a buffer of `size` items.
    pub fn new(inner: I, size: usize, rng: ChaCha8Rng) -> Self {
        BufferShuffle {
            inner,
            buffer: Vec::with_capacity(size.min(1 << 16)),
            size: size.max(1),
            rng,
            exhausted: false,
        }
    }
}

impl<T, E, I: Iterator<Item = Result<T, E>>> Iterator for BufferShuffle<I> {
    type Item = Result<T, E>;

    fn next(&mut self) -> Option<Self::Item> {
        while !self.exhausted && self.buffer.len() < self.size {
            match self.inner.next() {
                // Errors pass through at once: they end the stream.
                Some(Err(e)) => return Some(Err(e)),
                Some(ok) => self.buffer.push(ok),
                None => self.exhausted = true,
            }
        }
        if self.buffer.is_empty() {
            return None;
        }
        let j = self.rng.gen_range(0..self.buffer.len());
        Some(self.buffer.swap_remove(j))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(seed: u64, epoch: u64) -> Vec<u32> {
        let o = ShuffleOptions {
            seed,
            epoch,
            buffer_size: 16,
        };
        BufferShuffle::new((0..100u32).map(Ok::<u32, ()>), o.buffer_size, o.rng())
            .map(Result::unwrap)
            .collect()
    }

    #[test]
    fn same_seed_same_order_all_items_kept() {
        let a = run(7, 0);
        assert_eq!(a, run(7, 0));
        assert_ne!(a, run(8, 0));
        assert_ne!(a, run(7, 1));
        assert_ne!(a, (0..100).collect::<Vec<_>>());
        let mut s = a.clone();
        s.sort();
        assert_eq!(s, (0..100).collect::<Vec<_>>());
    }
}
