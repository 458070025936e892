//! Concurrent use of one session (token) from two contexts. A context is the
//! caller's network (IPv4 /16, IPv6 /32, or the raw text when the address does
//! not parse) plus its user-agent family, so pod restarts and replicas inside
//! one network share a context, while a stolen token used from elsewhere, in
//! parallel with the real agent, interleaves two.

use super::stats::Stamp;

/// How close in time two contexts must be used to count as concurrent.
const CONCURRENT_MS: i64 = 10 * 60_000;
/// A context new to the agent that has been silent for this many of its
/// own recent gaps has stopped: the agent's next call from its familiar
/// context is a hand-back, not an alternation. A caller with a steady pace
/// stays silent that long by chance less than 2 % of the time (e^-4).
const STOPPED_GAPS: i64 = 4;
/// The slowest pace kept (gaps up to 2^14 s, four and a half hours).
const MAX_PACE: u8 = 15;

#[derive(Debug, Clone, Copy, Default, PartialEq, serde::Serialize, serde::Deserialize)]
struct Slot {
    session: u32,
    ctx: [u32; 2],
    last: [Stamp; 2],
    flags: ContextFlags,
    switches: u16,
    /// When the agent first used the session (event time, ms), for the
    /// session's age.
    first: Stamp,
}

/// Which of a slot's two contexts was used last, whether each was
/// unfamiliar to the agent when it first appeared, and the pace of the
/// unfamiliar one: seven bits in one byte (a `[bool; 2]` and a `u8` padded
/// every slot by 4 bytes). Written as the `([bool; 2], u8)` it replaced,
/// the pace above the current context's bit of the `u8`, so records
/// written before the pace was kept read as slots whose stranger has no
/// pace yet (test `a_slot_is_written_as_before`).
#[derive(Clone, Copy, Default, PartialEq, Eq)]
struct ContextFlags(u8);

impl ContextFlags {
    const CURRENT: u8 = 1 << 2;
    const PACE_SHIFT: u8 = 3;

    /// A slot's first context, current, unfamiliar when `novel`.
    fn first_context(novel: bool) -> Self {
        ContextFlags(u8::from(novel))
    }

    fn novel(self, i: usize) -> bool {
        self.0 & (1 << i) != 0
    }

    fn set_novel(&mut self, i: usize, novel: bool) {
        self.0 = (self.0 & !(1 << i)) | (u8::from(novel) << i);
    }

    fn current(self) -> usize {
        usize::from(self.0 & Self::CURRENT != 0)
    }

    fn set_current(&mut self, i: usize) {
        self.0 = (self.0 & !Self::CURRENT) | if i == 1 { Self::CURRENT } else { 0 };
    }

    /// The context new to the agent when exactly one of the two is: the
    /// one whose pace is kept.
    fn stranger(self) -> Option<usize> {
        match (self.novel(0), self.novel(1)) {
            (true, false) => Some(0),
            (false, true) => Some(1),
            _ => None,
        }
    }

    /// The stranger's pace: 0 while unknown, else `k` for gaps of up to
    /// 2^(k-1) seconds between its recent calls.
    fn pace(self) -> u8 {
        self.0 >> Self::PACE_SHIFT
    }

    fn set_pace(&mut self, pace: u8) {
        let pace = pace.min(MAX_PACE);
        self.0 = (self.0 & ((1 << Self::PACE_SHIFT) - 1)) | (pace << Self::PACE_SHIFT);
    }

    /// Learns the stranger's pace from one gap between its calls. A
    /// longer gap sets it at once, a shorter one halves it: the pace is
    /// about the longest of the recent gaps, so a bursty caller is not
    /// taken for a fast one in its pauses.
    fn learn_pace(&mut self, gap_ms: i64) {
        let mut k = 1;
        while k < MAX_PACE && gap_ms > 1000 << (k - 1) {
            k += 1;
        }
        let old = self.pace();
        self.set_pace(if old == 0 { k } else { k.max(old - 1) });
    }

    /// Whether the stranger, silent for `silent_ms`, has stopped by its
    /// own pace.
    fn stranger_stopped(self, silent_ms: i64) -> bool {
        let pace = self.pace();
        pace > 0 && silent_ms > STOPPED_GAPS * (1000 << (pace - 1))
    }
}

impl std::fmt::Debug for ContextFlags {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ContextFlags")
            .field("novel", &[self.novel(0), self.novel(1)])
            .field("current", &self.current())
            .field("pace", &self.pace())
            .finish()
    }
}

impl serde::Serialize for ContextFlags {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let current = self.current() as u8 | self.pace() << 1;
        ([self.novel(0), self.novel(1)], current).serialize(s)
    }
}

impl<'de> serde::Deserialize<'de> for ContextFlags {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let (novel, current) = <([bool; 2], u8)>::deserialize(d)?;
        if current >> 1 > MAX_PACE {
            return Err(serde::de::Error::custom(format!(
                "a session's current context (0 or 1) and pace (at most {MAX_PACE}) \
                 do not make {current}"
            )));
        }
        let mut flags = ContextFlags::default();
        flags.set_novel(0, novel[0]);
        flags.set_novel(1, novel[1]);
        flags.set_current((current & 1).into());
        flags.set_pace(current >> 1);
        Ok(flags)
    }
}

/// The last three sessions an agent used, each with up to two contexts.
#[derive(Debug, Clone, Copy, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub(crate) struct SessionSlots([Slot; 3]);

/// Result of one observation.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub(crate) struct Concurrency {
    /// Alternations between two contexts within `CONCURRENT_MS`.
    pub switches: u16,
    /// One of the two contexts was new to the agent.
    pub unfamiliar: bool,
}

/// The key a session id is tracked under (never 0, which marks a free slot).
pub(crate) fn session_key(session_id: &str) -> u32 {
    super::stats::fingerprint(super::stats::fp_kind::SESSION, session_id) as u32 | 1
}

impl SessionSlots {
    /// How long the agent has been using `session` at `ts` (ms since its
    /// first call with it), when the session is one of its last three.
    /// A session pushed out by three newer ones starts again at zero when
    /// it comes back: the age is a lower bound.
    pub(crate) fn age_ms(&self, session: u32, ts: i64) -> Option<i64> {
        self.0
            .iter()
            .find(|s| s.session == session && s.last[0].get() != 0)
            .map(|s| ts.saturating_sub(s.first.get()).max(0))
    }

    pub(crate) fn observe(
        &mut self,
        session: u32,
        ctx: u32,
        ctx_novel: bool,
        ts: i64,
    ) -> Concurrency {
        let slots = &mut self.0;
        let pos = match slots
            .iter()
            .position(|s| s.session == session && s.last[0].get() != 0)
        {
            Some(p) => p,
            None => {
                let p = (0..slots.len())
                    .min_by_key(|&i| slots[i].last[0].get().max(slots[i].last[1].get()))
                    .unwrap_or(0);
                slots[p] = Slot {
                    session,
                    ctx: [ctx, 0],
                    last: [Stamp::new(ts.max(1)), Stamp::default()],
                    flags: ContextFlags::first_context(ctx_novel),
                    switches: 0,
                    first: Stamp::new(ts),
                };
                return Concurrency::default();
            }
        };
        let s = &mut slots[pos];
        let which = if s.ctx[0] == ctx {
            0
        } else if s.ctx[1] == ctx && s.last[1].get() != 0 {
            1
        } else {
            // A third context replaces the older of the two.
            let old = if s.last[1].get() == 0 || s.last[1].get() < s.last[0].get() {
                1
            } else {
                0
            };
            // The alternation counted so far was with the context replaced:
            // it goes on only while that context is still live (a token
            // used from rotating networks). One gone for longer than the
            // window takes its count along, so a move hours after an
            // intruder left is not scored as the intruder's alternation.
            let gone = ts - s.last[old].get() > CONCURRENT_MS;
            s.ctx[old] = ctx;
            s.flags.set_novel(old, ctx_novel);
            s.flags.set_pace(0);
            s.last[old] = Stamp::default();
            if old == s.flags.current() || gone {
                s.switches = 0;
            }
            old
        };
        let other = 1 - which;
        let stranger = s.flags.stranger();
        if stranger == Some(which) && s.last[which].get() != 0 {
            s.flags.learn_pace(ts - s.last[which].get());
        }
        let silent = ts - s.last[other].get();
        let within = s.last[other].get() != 0 && silent <= CONCURRENT_MS;
        // The agent back on its session after the stranger stopped (an
        // intruder who left, the owner resuming minutes later) hands the
        // session back: it neither adds to the alternation nor ends it, so
        // the stranger's calls are what the evidence rests on.
        let handed_back = within && stranger == Some(other) && s.flags.stranger_stopped(silent);
        let both_live = within && !handed_back;
        if which != s.flags.current() {
            if both_live {
                s.switches = s.switches.saturating_add(1);
            } else if !handed_back {
                s.switches = 0;
            }
            s.flags.set_current(which);
        }
        s.last[which] = Stamp::new(ts.max(1));
        Concurrency {
            switches: if both_live { s.switches } else { 0 },
            unfamiliar: s.flags.novel(0) || s.flags.novel(1),
        }
    }
}

/// Network part of a source address: first two IPv4 octets (leading zeros
/// dropped, so anonymised `075.050.x.y` groups with `75.50.x.y`), first two
/// IPv6 hextets, or the whole text when it is neither.
pub(crate) fn network_of(ip: &str) -> std::borrow::Cow<'_, str> {
    // One pass over the bytes (this runs for every call): an IPv4 address is
    // four groups of one to three ASCII digits joined by three dots.
    let bytes = ip.as_bytes();
    let mut dots = [0usize; 3];
    let (mut n, mut digits, mut ipv4) = (0, 0, true);
    for (i, &c) in bytes.iter().enumerate() {
        if c == b'.' && n < 3 && (1..=3).contains(&digits) {
            dots[n] = i;
            n += 1;
            digits = 0;
        } else if c.is_ascii_digit() && digits < 3 {
            digits += 1;
        } else {
            ipv4 = false;
            break;
        }
    }
    if ipv4 && n == 3 && digits >= 1 {
        let (a, b) = (&ip[..dots[0]], &ip[dots[0] + 1..dots[1]]);
        if (a.len() > 1 && a.starts_with('0')) || (b.len() > 1 && b.starts_with('0')) {
            let a: u32 = a.parse().unwrap_or(0);
            let b: u32 = b.parse().unwrap_or(0);
            return format!("{a}.{b}").into();
        }
        return ip[..dots[1]].into();
    }
    let colon_from = |from: usize| memchr::memchr(b':', &bytes[from..]).map(|i| from + i);
    if let Some(first) = colon_from(0) {
        // Up to the second colon (or the end).
        return ip[..colon_from(first + 1).unwrap_or(bytes.len())].into();
    }
    ip.into()
}

/// Whether a call's source is a cloud provider's own service rather than a
/// network address: CloudTrail writes the service's name (`rds.amazonaws.com`)
/// as the source of a call a service made on the principal's behalf (a
/// service-linked role at work, a forward access session). Such a call is
/// the consequence of an earlier request, which is scored itself; it says
/// nothing about where the credential's holder is or what it chose to do.
/// A source is whatever the log's writer recorded, never what the caller
/// claimed, so a caller cannot pass for a service this way.
pub(crate) fn is_provider_service(src: &str) -> bool {
    src.len() > ".amazonaws.com".len()
        && src.ends_with(".amazonaws.com")
        && src
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-')
}

/// User-agent family: the product token before the first `/` or space, so a
/// version bump is not a new user agent.
pub(crate) fn ua_family(ua: &str) -> &str {
    let end = ua
        .bytes()
        .position(|b| b == b'/' || b == b' ')
        .unwrap_or(ua.len());
    &ua[..end]
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// The definitions `network_of` and `ua_family` are faster forms of.
    fn network_of_reference(ip: &str) -> std::borrow::Cow<'_, str> {
        let mut parts = ip.split('.');
        let (a, b, c, d, rest) = (
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
        );
        if let (Some(a), Some(b), Some(c), Some(d), None) = (a, b, c, d, rest) {
            let octet =
                |p: &str| !p.is_empty() && p.len() <= 3 && p.bytes().all(|x| x.is_ascii_digit());
            if octet(a) && octet(b) && octet(c) && octet(d) {
                if (a.len() > 1 && a.starts_with('0')) || (b.len() > 1 && b.starts_with('0')) {
                    let a: u32 = a.parse().unwrap_or(0);
                    let b: u32 = b.parse().unwrap_or(0);
                    return format!("{a}.{b}").into();
                }
                return ip[..a.len() + 1 + b.len()].into();
            }
        }
        if ip.contains(':') {
            let mut it = ip.split(':');
            let a = it.next().unwrap_or("");
            let b = it.next().unwrap_or("");
            return ip[..a.len() + 1 + b.len()].into();
        }
        ip.into()
    }

    fn ua_family_reference(ua: &str) -> &str {
        let end = ua.find(['/', ' ']).unwrap_or(ua.len());
        &ua[..end]
    }

    proptest! {
        #[test]
        fn network_of_matches_its_definition(
            ip in "[0-9]{0,4}(\\.[0-9]{0,4}){0,5}|[0-9a-f:.]{0,20}|[0-9.a-zé٣]{0,12}"
        ) {
            prop_assert_eq!(network_of(&ip), network_of_reference(&ip));
        }

        #[test]
        fn ua_family_matches_its_definition(ua in "[a-zA-Z0-9/ .é-]{0,20}") {
            prop_assert_eq!(ua_family(&ua), ua_family_reference(&ua));
        }
    }

    #[test]
    fn only_a_service_name_is_a_provider_service_source() {
        assert!(is_provider_service("rds.amazonaws.com"));
        assert!(is_provider_service("cloudformation.amazonaws.com"));
        for src in [
            "203.0.113.7",
            "2001:db8::1",
            ".amazonaws.com",
            "AWS Internal",
            "evil amazonaws.com",
            "x.amazonaws.com.evil.example",
        ] {
            assert!(!is_provider_service(src), "{src}");
        }
    }

    /// `Slot` as it was before its flags shared a byte.
    #[derive(serde::Serialize)]
    struct SlotAsBefore {
        session: u32,
        ctx: [u32; 2],
        last: [i64; 2],
        novel: [bool; 2],
        current: u8,
        switches: u16,
        first: i64,
    }

    proptest! {
        /// Any history of calls leaves slots written as the old layout
        /// wrote the same answers, and they read back as they were.
        #[test]
        fn a_slot_is_written_as_before(
            calls in proptest::collection::vec((0u32..4, 0u32..4, any::<bool>(), 0i64..3_600_000), 0..40)
        ) {
            let mut s = SessionSlots::default();
            let mut ts = 1_000;
            for (session, ctx, novel, dt) in calls {
                ts += dt;
                s.observe(session | 1, ctx, novel, ts);
            }
            for slot in &s.0 {
                let before = SlotAsBefore {
                    session: slot.session,
                    ctx: slot.ctx,
                    last: [slot.last[0].get(), slot.last[1].get()],
                    novel: [slot.flags.novel(0), slot.flags.novel(1)],
                    current: slot.flags.current() as u8 | slot.flags.pace() << 1,
                    switches: slot.switches,
                    first: slot.first.get(),
                };
                let bytes = postcard::to_allocvec(slot).unwrap();
                prop_assert_eq!(&bytes, &postcard::to_allocvec(&before).unwrap());
                prop_assert_eq!(postcard::from_bytes::<Slot>(&bytes).unwrap(), *slot);
            }
        }
    }

    #[test]
    fn context_flags_keep_each_bit_and_refuse_a_third_context() {
        let mut f = ContextFlags::default();
        f.set_novel(1, true);
        f.set_current(1);
        assert_eq!((f.novel(0), f.novel(1), f.current()), (false, true, 1));
        f.set_novel(1, false);
        f.set_novel(0, true);
        f.set_current(0);
        assert_eq!((f.novel(0), f.novel(1), f.current()), (true, false, 0));
        let bad = postcard::to_allocvec(&([false, false], 2 * (MAX_PACE + 1))).unwrap();
        assert!(postcard::from_bytes::<ContextFlags>(&bad).is_err());
        // A record written before the pace was kept reads with no pace;
        // the pace never touches the other bits.
        let old = postcard::to_allocvec(&([false, true], 1u8)).unwrap();
        let mut read = postcard::from_bytes::<ContextFlags>(&old).unwrap();
        assert_eq!((read.novel(1), read.current(), read.pace()), (true, 1, 0));
        read.set_pace(MAX_PACE);
        assert_eq!(
            (read.novel(0), read.novel(1), read.current()),
            (false, true, 1)
        );
        let again = postcard::to_allocvec(&read).unwrap();
        assert_eq!(postcard::from_bytes::<ContextFlags>(&again).unwrap(), read);
    }

    #[test]
    fn a_strangers_pace_is_about_its_longest_recent_gap() {
        let mut f = ContextFlags::default();
        f.learn_pace(13_000);
        assert_eq!(f.pace(), 5, "13 s is within 16 s");
        // A pause sets the pace at once; quick calls after it bring it
        // down one step at a time.
        f.learn_pace(100_000);
        assert_eq!(f.pace(), 8);
        f.learn_pace(500);
        assert_eq!(f.pace(), 7);
        // Stopped after four of its gaps (64 s each), not before.
        assert!(!f.stranger_stopped(4 * 64_000));
        assert!(f.stranger_stopped(4 * 64_000 + 1));
        let mut slow = ContextFlags::default();
        slow.learn_pace(i64::MAX);
        assert_eq!(slow.pace(), MAX_PACE);
        assert!(
            !ContextFlags::default().stranger_stopped(i64::MAX),
            "no pace yet"
        );
    }

    /// `n` calls on session 1, `every_ms` apart from `from`, alternating
    /// between the agent's own context (10) and a stranger's (66, new to
    /// the agent), the agent first. Returns the last call's time.
    fn alternate(s: &mut SessionSlots, from: i64, n: i64, every_ms: i64) -> i64 {
        let mut t = from;
        for i in 0..n {
            t += every_ms;
            let ctx = if i % 2 == 0 { 10 } else { 66 };
            s.observe(1, ctx, ctx == 66, t);
        }
        t
    }

    /// An intruder on the agent's session, a call every 13 s from a network
    /// new to the agent while the agent calls every five minutes, then
    /// gone. Returns (the highest switches while the intruder called, the
    /// switches on the agent's call `back_after_ms` after the last one).
    fn intruder_then_owner(back_after_ms: i64) -> (u16, u16) {
        let mut s = SessionSlots::default();
        let (home, away) = (10, 66);
        let mut t = 1_000;
        for _ in 0..6 {
            t += 5 * 60_000;
            s.observe(1, home, false, t);
        }
        let mut during = 0;
        for i in 1..=90 {
            t += 13_000;
            let (ctx, novel) = if i % 23 == 0 {
                (home, false)
            } else {
                (away, true)
            };
            during = during.max(s.observe(1, ctx, novel, t).switches);
        }
        let back = s.observe(1, home, false, t + back_after_ms).switches;
        (during, back)
    }

    #[test]
    fn the_agent_back_after_an_intruder_stopped_is_a_hand_back() {
        let (during, back) = intruder_then_owner(7 * 60_000);
        assert!(during >= 5, "the alternation is counted: {during}");
        assert_eq!(back, 0, "the intruder stopped minutes ago");
        // Within four of the intruder's gaps it may still be calling: the
        // agent's call is an alternation as before.
        let (_, soon) = intruder_then_owner(40_000);
        assert_eq!(soon, during + 1);
    }

    #[test]
    fn a_hand_back_keeps_the_count_for_the_strangers_return() {
        let mut s = SessionSlots::default();
        let mut t = alternate(&mut s, 1_000, 10, 10_000);
        let before = s.0[0].switches;
        t += 5 * 60_000;
        assert_eq!(s.observe(1, 10, false, t).switches, 0, "handed back");
        t += 30_000;
        let again = s.observe(1, 66, true, t);
        assert_eq!(again.switches, before + 1, "{again:?}");
    }

    #[test]
    fn a_sessions_age_counts_from_its_first_call_until_it_is_pushed_out() {
        let mut s = SessionSlots::default();
        s.observe(7, 10, false, 1_000);
        s.observe(7, 10, false, 61_000);
        assert_eq!(s.age_ms(7, 121_000), Some(120_000));
        assert_eq!(s.age_ms(8, 121_000), None);
        // Three newer sessions push it out; back again, it starts anew.
        for (k, t) in [(8, 200_000), (9, 300_000), (11, 400_000)] {
            s.observe(k, 10, false, t);
        }
        assert_eq!(s.age_ms(7, 500_000), None);
        s.observe(7, 10, false, 500_000);
        assert_eq!(s.age_ms(7, 530_000), Some(30_000));
    }

    #[test]
    fn interleaving_two_contexts_counts_switches() {
        let mut s = SessionSlots::default();
        let mut t = 1_000;
        assert_eq!(s.observe(1, 10, false, t).switches, 0);
        let mut last = Concurrency::default();
        for i in 0..6 {
            t += 20_000;
            let ctx = if i % 2 == 0 { 20 } else { 10 };
            last = s.observe(1, ctx, ctx == 20, t);
        }
        assert!(last.switches >= 5, "{last:?}");
        assert!(last.unfamiliar);
    }

    #[test]
    fn a_restart_that_moves_context_once_is_not_concurrency() {
        let mut s = SessionSlots::default();
        let mut t = 1_000;
        for _ in 0..10 {
            t += 10_000;
            s.observe(1, 10, false, t);
        }
        t += 15 * 60_000; // old context gone for longer than the window
        let c = s.observe(1, 20, false, t);
        assert_eq!(c.switches, 0);
        for _ in 0..10 {
            t += 10_000;
            assert_eq!(s.observe(1, 20, false, t).switches, 0);
        }
    }

    #[test]
    fn an_alternation_long_over_does_not_carry_to_a_new_context() {
        // An intruder alternates with the agent on its session, then stops.
        let mut s = SessionSlots::default();
        let mut t = alternate(&mut s, 1_000, 12, 20_000);
        // The agent alone on it for hours (the alternation is still live
        // for the window's ten minutes), then its egress moves.
        for i in 0..200 {
            t += 60_000;
            let c = s.observe(1, 10, false, t);
            assert!(i < 10 || c.switches == 0, "{c:?} at {i}");
        }
        t += 60_000;
        let moved = s.observe(1, 11, true, t);
        assert!(moved.switches <= 1, "{moved:?}");
        // While an intruder rotates networks, its alternation goes on.
        let mut r = SessionSlots::default();
        let mut t = 1_000;
        let mut last = Concurrency::default();
        for i in 0..12 {
            t += 20_000;
            let ctx = if i % 2 == 0 { 10 } else { 100 + i };
            last = r.observe(1, ctx, ctx != 10, t);
        }
        assert!(last.switches >= 10, "{last:?}");
    }

    #[test]
    fn separate_sessions_do_not_mix() {
        let mut s = SessionSlots::default();
        for i in 0..10 {
            let c = s.observe(i % 2, 10 + i % 2, false, 1_000 + i as i64 * 1000);
            assert_eq!(c.switches, 0);
        }
    }

    #[test]
    fn networks_and_user_agents() {
        assert_eq!(network_of("10.1.2.3"), "10.1");
        assert_eq!(network_of("075.050.255.67"), "75.50");
        assert_eq!(network_of("2001:db8::1"), "2001:db8");
        assert_eq!(network_of("internal-host"), "internal-host");
        assert_eq!(ua_family("aws-cli/2.15.0 Python/3.11"), "aws-cli");
        assert_eq!(ua_family("curl"), "curl");
        assert_eq!(ua_family("Boto3 1.2"), "Boto3");
    }
}
