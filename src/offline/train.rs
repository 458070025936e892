//! `warden train`: behaviour archetypes from history. The history is
//! replayed through the engine (so profiles are read off exactly the
//! baselines the engine keeps), each settled agent's profile vector is
//! standardised, k-means (linfa) groups them, and each group is described
//! by its members: centroid, typical baselines, how far members lie from
//! the centroid, agent types, and the actions and clients they use.

use crate::config::Config;
use crate::engine::archetype::{
    profile_features, Archetype, ArchetypeModel, MeanSd, MemberDistances, ProfileFeatureDef,
    SeedBaselines, Training, MIN_MEMBERS, MIN_SHARE, MODEL_FORMAT, MODEL_VERSION, PROFILE_LEN,
    PROFILE_VERSION,
};
use crate::engine::EngineError;
use crate::engine::{ua_family, Engine};
use crate::event::CallColumns;
use crate::input::ReadOptions;
use crate::input::{read_windows, InputError, ReadObserver};
use crate::keyed::KeyedMap;
use linfa::prelude::*;
use linfa_clustering::KMeans;
use ndarray::{Array2, Axis};
use rand_xoshiro::rand_core::SeedableRng;
use rustc_hash::{FxHashMap, FxHashSet};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// An agent is profiled once it has settled in: a day of history (as the
/// engine binds agents to archetypes at run time) and this many calls.
const SETTLED_MS: i64 = 24 * 3_600_000;

#[derive(Debug, Clone)]
/// What `warden train` fits.
pub struct TrainOptions {
    /// Archetypes (k of k-means).
    pub archetypes: usize,
    /// Calls an agent needs, over a day or more, to be profiled.
    pub min_events: u32,
    /// Seed of k-means' initialisation.
    pub seed: u64,
}

impl Default for TrainOptions {
    fn default() -> Self {
        TrainOptions {
            archetypes: 8,
            min_events: 200,
            seed: 1,
        }
    }
}

#[derive(Debug, thiserror::Error)]
/// Why a model could not be trained.
pub enum TrainError {
    #[error(transparent)]
    /// An input could not be read.
    Input(#[from] InputError),
    #[error(transparent)]
    /// The engine could not be built from the config.
    Engine(#[from] EngineError),
    #[error(
        "too little history: {profiled} agents have {min_events}+ calls over a day or more, \
         and {k} archetypes need at least {need} (lower --archetypes or --min-events, or give more history)"
    )]
    /// Too few agents have enough history for `k` archetypes.
    TooFew {
        /// Agents with enough history.
        profiled: usize,
        /// Calls an agent needed.
        min_events: u32,
        /// Archetypes asked for.
        k: usize,
        /// Agents needed for that many.
        need: usize,
    },
    #[error("k-means: {0}")]
    /// k-means failed.
    KMeans(String),
    #[error("cannot write {path}: {source}")]
    /// The model file could not be written.
    Write {
        /// Where it was to go.
        path: String,
        /// Why it could not.
        source: std::io::Error,
    },
}

/// Strings seen in the history, by dense id, and which each agent used.
#[derive(Default)]
struct Vocabulary {
    /// Keyed by what callers wrote (actions, clients): random hash keys
    /// (`crate::keyed`); these are looked up, never iterated.
    ids: KeyedMap<Box<str>, u32>,
    names: Vec<Box<str>>,
    actions: KeyedMap<Box<str>, FxHashSet<u32>>,
    clients: KeyedMap<Box<str>, FxHashSet<u32>>,
}

impl Vocabulary {
    fn id(&mut self, s: &str) -> u32 {
        if let Some(&i) = self.ids.get(s) {
            return i;
        }
        let i = self.names.len() as u32;
        self.ids.insert(s.into(), i);
        self.names.push(s.into());
        i
    }

    fn observe(&mut self, agent: &str, action: &str, client: Option<&str>) {
        let a = self.id(action);
        set_for(&mut self.actions, agent).insert(a);
        if let Some(c) = client {
            let c = self.id(ua_family(c));
            set_for(&mut self.clients, agent).insert(c);
        }
    }
}

fn set_for<'m>(
    m: &'m mut KeyedMap<Box<str>, FxHashSet<u32>>,
    agent: &str,
) -> &'m mut FxHashSet<u32> {
    if !m.contains_key(agent) {
        m.insert(agent.into(), FxHashSet::default());
    }
    m.get_mut(agent).expect("inserted above")
}

/// Replays `inputs` and fits the archetypes.
pub fn train(
    inputs: &[String],
    cfg: &Config,
    opts: &TrainOptions,
    observer: &mut dyn ReadObserver,
) -> Result<ArchetypeModel, TrainError> {
    let mut cfg = cfg.clone();
    // A model is fitted from the history alone, never from an older model.
    cfg.engine.archetypes = None;
    let read_opts = ReadOptions::from(&cfg);
    let mut engine = Engine::new(cfg);
    let mut vocab = Vocabulary::default();
    let totals = read_windows(inputs, &read_opts, observer, &mut |batch| {
        engine.process_batch(batch, &mut |_, _| {})?;
        let cols = CallColumns::new(batch).map_err(EngineError::from)?;
        for i in 0..cols.len() {
            let r = cols.row(i);
            // Calls labelled as attacks (simulated or annotated history)
            // are not what an archetype does.
            if r.label.is_none() {
                vocab.observe(r.agent_id, r.action, r.user_agent);
            }
        }
        Ok::<(), TrainError>(())
    })?;

    let mut agents: Vec<(&str, [f32; PROFILE_LEN], &str)> = Vec::new();
    let mut skipped = 0u64;
    for (id, st) in engine.agent_states() {
        if st.events >= opts.min_events && st.last_ts - st.first_ts >= SETTLED_MS {
            agents.push((id, st.profile_vector(), st.agent_type.as_str()));
        } else {
            skipped += 1;
        }
    }
    // Deterministic order, whatever the hash map's.
    agents.sort_by(|a, b| a.0.cmp(b.0));
    let k = opts.archetypes.max(1);
    let need = 3 * k;
    if agents.len() < need {
        return Err(TrainError::TooFew {
            profiled: agents.len(),
            min_events: opts.min_events,
            k,
            need,
        });
    }

    let (features, z) = standardise(&agents);
    let rng = rand_xoshiro::Xoshiro256Plus::seed_from_u64(opts.seed);
    let dataset = DatasetBase::from(z.clone());
    let fitted = KMeans::params_with_rng(k, rng)
        .n_runs(10)
        .max_n_iterations(300)
        .tolerance(1e-6)
        .fit(&dataset)
        .map_err(|e| TrainError::KMeans(e.to_string()))?;
    let labels = fitted.predict(&z);

    let mut archetypes = Vec::new();
    for c in 0..k {
        let members: Vec<usize> = (0..agents.len()).filter(|&i| labels[i] == c).collect();
        if members.is_empty() {
            continue;
        }
        let centroid: Vec<f32> = fitted
            .centroids()
            .index_axis(Axis(0), c)
            .iter()
            .map(|&x| x as f32)
            .collect();
        archetypes.push(describe(
            archetypes.len() as u32,
            &members,
            &agents,
            &z,
            centroid,
            &vocab,
        ));
    }
    Ok(ArchetypeModel {
        format: MODEL_FORMAT.into(),
        version: MODEL_VERSION,
        profile_version: PROFILE_VERSION,
        features,
        training: Training {
            trained_at: now_rfc3339(),
            warden_version: env!("CARGO_PKG_VERSION").into(),
            inputs: inputs.to_vec(),
            events: totals.rows,
            agents_profiled: agents.len() as u64,
            agents_skipped: skipped,
            min_events: opts.min_events,
            k: k as u32,
            seed: opts.seed,
            inertia: fitted.inertia(),
        },
        archetypes,
    })
}

fn now_rfc3339() -> String {
    let ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64);
    crate::event::format_rfc3339_ms(ms)
}

/// Feature definitions with each column's mean and spread, and the
/// standardised matrix (one row per agent).
fn standardise(
    agents: &[(&str, [f32; PROFILE_LEN], &str)],
) -> (Vec<ProfileFeatureDef>, Array2<f64>) {
    let n = agents.len() as f64;
    let mut z = Array2::<f64>::zeros((agents.len(), PROFILE_LEN));
    let mut defs = Vec::new();
    for (j, (name, definition)) in profile_features().into_iter().enumerate() {
        let mean = agents.iter().map(|a| a.1[j] as f64).sum::<f64>() / n;
        let var = agents
            .iter()
            .map(|a| (a.1[j] as f64 - mean).powi(2))
            .sum::<f64>()
            / n;
        // A constant column (an agent type nobody has) carries no distance.
        let sd = if var.sqrt() > 1e-6 { var.sqrt() } else { 1.0 };
        for (i, a) in agents.iter().enumerate() {
            z[[i, j]] = (a.1[j] as f64 - mean) / sd;
        }
        defs.push(ProfileFeatureDef {
            name,
            definition,
            mean: mean as f32,
            sd: sd as f32,
        });
    }
    (defs, z)
}

fn describe(
    id: u32,
    members: &[usize],
    agents: &[(&str, [f32; PROFILE_LEN], &str)],
    z: &Array2<f64>,
    centroid: Vec<f32>,
    vocab: &Vocabulary,
) -> Archetype {
    let m = members.len() as f32;
    let mean_sd = |j: usize| {
        let mean = members.iter().map(|&i| agents[i].1[j]).sum::<f32>() / m;
        let var = members
            .iter()
            .map(|&i| (agents[i].1[j] - mean).powi(2))
            .sum::<f32>()
            / m;
        MeanSd {
            mean,
            sd: var.sqrt(),
        }
    };
    let mut distances: Vec<f32> = members
        .iter()
        .map(|&i| {
            z.index_axis(Axis(0), i)
                .iter()
                .zip(&centroid)
                .map(|(x, c)| (*x as f32 - c).powi(2))
                .sum::<f32>()
                .sqrt()
        })
        .collect();
    distances.sort_by(f32::total_cmp);
    let q = |p: f32| distances[((p * (distances.len() - 1) as f32).round()) as usize];
    let mut agent_types: BTreeMap<String, u32> = BTreeMap::new();
    for &i in members {
        *agent_types.entry(agents[i].2.to_string()).or_default() += 1;
    }
    let dominant = agent_types
        .iter()
        .max_by_key(|(_, n)| **n)
        .map_or("mixed", |(t, _)| t.as_str())
        .to_string();
    let shares = |used: &KeyedMap<Box<str>, FxHashSet<u32>>| {
        let mut counts: FxHashMap<u32, u32> = FxHashMap::default();
        for &i in members {
            for &v in used.get(agents[i].0).into_iter().flatten() {
                *counts.entry(v).or_default() += 1;
            }
        }
        counts
            .into_iter()
            .filter(|(_, n)| *n >= MIN_MEMBERS)
            .map(|(v, n)| (vocab.names[v as usize].to_string(), n as f32 / m))
            .filter(|(_, s)| *s >= MIN_SHARE)
            .map(|(v, s)| (v, (s * 1000.0).round() / 1000.0))
            .collect::<BTreeMap<String, f32>>()
    };
    let calls_1m = mean_sd(0).mean.exp() - 1.0;
    let active = mean_sd(7).mean;
    Archetype {
        id,
        label: format!("{dominant}-{id}"),
        description: format!(
            "{} members ({}); ~{:.1} calls in the minute around each call; active in {:.0}% of the day's hours; failures {:.1}%",
            members.len(),
            agent_types
                .iter()
                .map(|(t, n)| format!("{t} {n}"))
                .collect::<Vec<_>>()
                .join(", "),
            calls_1m,
            active * 100.0,
            mean_sd(5).mean * 100.0
        ),
        members: members.len() as u32,
        agent_types,
        centroid,
        baselines: SeedBaselines {
            log_calls_1m: mean_sd(0),
            log_calls_15m: mean_sd(1),
            log_distinct: mean_sd(2),
            log_bytes_5m: mean_sd(3),
            log_bytes_2h: mean_sd(4),
        },
        member_distances: MemberDistances {
            p50: q(0.5),
            p90: q(0.9),
            p99: q(0.99),
            max: distances[distances.len() - 1],
        },
        actions: shares(&vocab.actions),
        user_agents: shares(&vocab.clients),
    }
}

/// `dir/archetypes-vN.json` with N one past the highest version there.
pub fn next_model_path(dir: &Path) -> PathBuf {
    let highest = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let name = e.file_name().into_string().ok()?;
            name.strip_prefix("archetypes-v")?
                .strip_suffix(".json")?
                .parse::<u32>()
                .ok()
        })
        .max()
        .unwrap_or(0);
    dir.join(format!("archetypes-v{}.json", highest + 1))
}

/// Writes the model as pretty JSON (it is meant to be read and reviewed).
/// Refuses to overwrite: a model's version names one fit.
pub fn save(model: &ArchetypeModel, path: &Path) -> Result<(), TrainError> {
    let err = |source| TrainError::Write {
        path: path.display().to_string(),
        source,
    };
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(err)?;
    }
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)
        .map_err(err)?;
    let text = serde_json::to_string_pretty(model).expect("the model serialises");
    std::io::Write::write_all(&mut file, text.as_bytes()).map_err(err)?;
    std::io::Write::write_all(&mut file, b"\n").map_err(err)
}

/// One line per archetype, for the terminal.
pub fn render(model: &ArchetypeModel) -> String {
    let t = &model.training;
    let mut s = format!(
        "{} events; {} agents profiled ({} with under {} calls or a day of history left out); k-means k={} inertia {:.1}\n",
        t.events, t.agents_profiled, t.agents_skipped, t.min_events, t.k, t.inertia
    );
    for a in &model.archetypes {
        s.push_str(&format!(
            "{:<22} {}; {} actions, {} clients in its vocabulary\n",
            a.label,
            a.description,
            a.actions.len(),
            a.user_agents.len()
        ));
    }
    s
}
