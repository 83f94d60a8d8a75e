//! The natural keys an import's inputs have named so far, for the "overrides an earlier input"
//! warning: one 64-bit hash per distinct key, with the position of its latest input.
//!
//! A worker keeps one of these for a whole run, so its size is the worker's memory per input:
//! 12 bytes an entry in an open-addressing table filled to at most 80% (about 15 MB per
//! million distinct keys), where a general-purpose hash map of the same entries, with its
//! power-of-two sizes, takes 27 MB.

/// A set of key hashes, each with a position (see the module's documentation).
pub struct SeenKeys {
    /// The hashes; 0 marks a free slot (a hash of 0 is stored as 1).
    hashes: Vec<u64>,
    /// The position of each slot's latest input.
    positions: Vec<u32>,
    len: usize,
}

impl SeenKeys {
    /// Room for `keys` keys without growing.
    pub fn with_capacity(keys: usize) -> Self {
        // At most 80% full with `keys` keys.
        let slots = keys.div_ceil(4).saturating_mul(5).max(16);
        SeenKeys {
            hashes: vec![0; slots],
            positions: vec![0; slots],
            len: 0,
        }
    }

    /// How many distinct keys were seen.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether no key was seen.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Records that the input at `position` names the key of hash `hash`; returns the position
    /// of the latest earlier input that named it, if any.
    pub fn insert(&mut self, hash: u64, position: u32) -> Option<u32> {
        let hash = hash.max(1);
        let slot = self.slot_of(hash);
        if self.hashes[slot] == hash {
            return Some(std::mem::replace(&mut self.positions[slot], position));
        }
        if (self.len + 1) * 5 > self.hashes.len() * 4 {
            self.grow();
            return self.insert(hash, position);
        }
        self.hashes[slot] = hash;
        self.positions[slot] = position;
        self.len += 1;
        None
    }

    /// The slot holding `hash`, or the free slot where it would go (linear probing from its
    /// home slot; the table is never full).
    fn slot_of(&self, hash: u64) -> usize {
        let mut slot = self.home(hash);
        while self.hashes[slot] != 0 && self.hashes[slot] != hash {
            slot = if slot + 1 == self.hashes.len() {
                0
            } else {
                slot + 1
            };
        }
        slot
    }

    /// The slot a hash is looked for from: the hash scaled to the table's length (no modulo,
    /// and any length works).
    fn home(&self, hash: u64) -> usize {
        ((u128::from(hash) * self.hashes.len() as u128) >> 64) as usize
    }

    /// Doubles the table (only when there are more keys than the capacity asked for).
    fn grow(&mut self) {
        let old = std::mem::replace(self, SeenKeys::with_capacity(self.hashes.len() * 2));
        for (hash, position) in old.hashes.into_iter().zip(old.positions) {
            if hash != 0 {
                self.insert(hash, position);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_seen_again_gives_its_latest_position() {
        let mut seen = SeenKeys::with_capacity(4);
        assert_eq!(seen.insert(42, 0), None);
        assert_eq!(seen.insert(7, 1), None);
        assert_eq!(seen.insert(42, 2), Some(0));
        assert_eq!(seen.insert(42, 3), Some(2));
        assert_eq!(
            seen.insert(0, 4),
            None,
            "a hash of 0 is a key like any other"
        );
        assert_eq!(seen.insert(0, 5), Some(4));
        assert_eq!(seen.len(), 3);
    }

    #[test]
    fn it_grows_past_its_capacity_and_keeps_every_key() {
        let mut seen = SeenKeys::with_capacity(10);
        // Spread and clustered hashes alike (linear probing wraps around the end).
        let hash = |i: u64| {
            if i & 1 == 0 {
                i.wrapping_mul(0x9E37_79B9_7F4A_7C15)
            } else {
                u64::MAX - i
            }
        };
        for i in 0..10_000u64 {
            assert_eq!(seen.insert(hash(i), i as u32), None, "{i}");
        }
        for i in 0..10_000u64 {
            assert_eq!(seen.insert(hash(i), 0), Some(i as u32), "{i}");
        }
        assert_eq!(seen.len(), 10_000);
    }

    #[test]
    fn a_million_keys_fit_in_about_fifteen_megabytes_without_growing() {
        let mut seen = SeenKeys::with_capacity(1_000_000);
        for i in 0..1_000_000u64 {
            seen.insert(i.wrapping_mul(0x9E37_79B9_7F4A_7C15), 0);
        }
        let bytes = seen.hashes.capacity() * 8 + seen.positions.capacity() * 4;
        assert!(bytes <= 15_000_000, "{bytes}");
    }
}
