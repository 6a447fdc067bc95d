//! The parameter policy: which parameters train (freezing), at what learning-rate scale
//! (layer-wise decay) and weight decay (the no-decay rule), and which are re-initialised.
//!
//! Every rule reads a parameter's [`ParamGroup`] — embeddings, encoder layer i, layers shared
//! by every layer (ALBERT), pooler or head — as the run's encoder classifies it
//! ([`Encoder::param_group`]: each family knows the names it builds), so no rule parses names
//! itself except the no-decay rule, which is HF's own rule on names
//! (`no_decay = ["bias", "LayerNorm.weight"]`, with every family's norm layers as LayerNorm:
//! [`is_norm_param`]). A new policy is one more field here and one more line in the rule it
//! changes.

use stab_bert::{is_norm_param, Encoder, ParamGroup};
use stab_spec::RunSpec;
use tch::nn::VarStore;

use crate::optim::{Adam, AdamConfig, Layout};
use crate::TrainError;

/// How the parameters of one run are trained.
#[derive(Debug, Clone, PartialEq)]
pub struct ParamPolicy {
    /// Encoder layers in the model (L).
    pub num_layers: usize,
    /// Freeze the embeddings and the bottom `freeze_layers` layers (Merchant et al. 2020).
    pub freeze_layers: usize,
    /// Freeze the whole encoder (embeddings, layers, pooler): the feature-based approach.
    pub freeze_encoder: bool,
    /// Layer-wise learning-rate decay ξ (1: none).
    pub layerwise_lr_decay: f64,
    pub weight_decay: f64,
    /// Weight decay toward each parameter's value when the optimizer is built (after loading
    /// and re-initialisation) instead of toward 0 (Zhang et al.'s `PriorWD`).
    pub prior_weight_decay: bool,
}

impl ParamPolicy {
    /// The policy `spec` asks for on a model of `num_layers` layers, encoder not frozen (the
    /// approach says whether it is: [`crate::trainable::Trainable::freezes_encoder`]). Depths
    /// beyond the model are errors.
    pub fn new(spec: &RunSpec, num_layers: usize) -> Result<ParamPolicy, TrainError> {
        for (field, value) in [
            ("freeze_layers", spec.freeze_layers),
            ("reinit_layers", spec.reinit_layers),
        ] {
            if value > num_layers {
                return Err(TrainError::Invalid(format!(
                    "{field} = {value} but the model has {num_layers} layers"
                )));
            }
        }
        Ok(ParamPolicy {
            num_layers,
            freeze_layers: spec.freeze_layers,
            freeze_encoder: false,
            layerwise_lr_decay: spec.layerwise_lr_decay,
            weight_decay: spec.weight_decay,
            prior_weight_decay: spec.prior_weight_decay,
        })
    }

    /// Whether a parameter of `group` is left out of the optimizer (and needs no gradient).
    pub fn frozen(&self, group: ParamGroup) -> bool {
        if self.freeze_encoder {
            return group.is_encoder();
        }
        match group {
            ParamGroup::Embeddings => self.freeze_layers > 0,
            ParamGroup::Layer(i) => i < self.freeze_layers,
            // Used by every layer: frozen only with all of them (the encoder refuses depths
            // other than 0 and L).
            ParamGroup::SharedLayers => {
                self.freeze_layers > 0 && self.freeze_layers >= self.num_layers
            }
            ParamGroup::Pooler | ParamGroup::Head => false,
        }
    }

    /// Learning-rate factor under layer-wise decay ξ, as Zhang et al.'s
    /// `get_optimizer_grouped_parameters` (`run_glue.py`): head and pooler 1, then walking
    /// down from the top layer the factor is multiplied by ξ before each group — encoder
    /// layer i (0-based, of L) ξ^(L−i), so the top layer ξ, and the embeddings ξ^(L+1).
    /// Parameters shared by every layer (ALBERT) only occur with ξ = 1 (the encoder refuses
    /// other values), so they take 1.
    pub fn lr_scale(&self, group: ParamGroup) -> f64 {
        let (l, decay) = (self.num_layers, self.layerwise_lr_decay);
        match group {
            ParamGroup::Embeddings => decay.powi(l as i32 + 1),
            ParamGroup::Layer(i) => decay.powi((l - i) as i32),
            ParamGroup::SharedLayers | ParamGroup::Pooler | ParamGroup::Head => 1.0,
        }
    }

    /// Weight decay of a parameter: none on biases and norm weights (HF's `no_decay`, every
    /// family's norm layers counting as LayerNorm).
    pub fn weight_decay(&self, name: &str) -> f64 {
        if name.contains("bias") || is_norm_param(name) {
            0.0
        } else {
            self.weight_decay
        }
    }

    /// An optimizer holding every trainable variable of `vs`, in name order, with its
    /// learning-rate scale and weight decay (groups as `encoder` classifies them); frozen
    /// variables stop requiring gradients and are never decayed. With prior weight decay the
    /// values decayed toward are the variables' values now: build the optimizer after loading
    /// and re-initialisation, so that a re-initialised layer decays toward its re-initialised
    /// value and a new head toward its initial value — what Zhang's `PriorWD` does, whose
    /// `exclude_last_group` (meant to decay the head toward 0) never triggers (`i ==
    /// len(groups)`), and whose last group has no weight decay in both of `run_glue.py`'s
    /// groupings anyway.
    pub fn optimizer(
        &self,
        vs: &VarStore,
        encoder: &dyn Encoder,
        config: AdamConfig,
        layout: Layout,
    ) -> Adam {
        let mut optimizer = Adam::with_layout(config, layout);
        let variables = vs.variables();
        let mut names: Vec<&String> = variables.keys().collect();
        names.sort();
        for name in names {
            let var = variables[name].shallow_clone();
            let group = encoder.param_group(name);
            if self.frozen(group) {
                let _ = var.set_requires_grad(false);
                continue;
            }
            let (scale, decay) = (self.lr_scale(group), self.weight_decay(name));
            if self.prior_weight_decay {
                optimizer.add_toward_current(&var, scale, decay);
            } else {
                optimizer.add(&var, scale, decay);
            }
        }
        optimizer
    }
}

/// Re-initialises the pooler and the top `reinit_layers` layers (Zhang et al. 2021) from the
/// init seed, with HF's initialisation: N(0, `range`) weights, zero biases, norm weights 1;
/// the groups are `encoder`'s ([`Encoder::param_group`]).
///
/// LibTorch rejects a negative `range` with a panic of tch's infallible API, which the run's
/// panic guard records — a config error that cannot be checked beforehand in general.
pub fn reinitialise(vs: &VarStore, spec: &RunSpec, encoder: &dyn Encoder, range: f64) {
    let num_layers = encoder.num_layers();
    if !spec.reinit_pooler && spec.reinit_layers == 0 {
        return;
    }
    tch::manual_seed(spec.init_seed as i64 ^ 0x5EED);
    let variables = vs.variables();
    let mut names: Vec<&String> = variables.keys().collect();
    names.sort();
    let first = num_layers - spec.reinit_layers;
    for name in names {
        let hit = match encoder.param_group(name) {
            ParamGroup::Pooler => spec.reinit_pooler,
            ParamGroup::Layer(i) => i >= first,
            // Shared by every layer: re-initialised only with all of them (checked: 0 or L).
            ParamGroup::SharedLayers => spec.reinit_layers > 0 && spec.reinit_layers >= num_layers,
            ParamGroup::Embeddings | ParamGroup::Head => false,
        };
        if !hit {
            continue;
        }
        let mut v = variables[name].shallow_clone();
        tch::no_grad(|| {
            if is_norm_param(name) && name.ends_with("weight") {
                let _ = v.fill_(1.0);
            } else if name.ends_with("bias") {
                let _ = v.zero_();
            } else {
                let _ = v.normal_(0.0, range);
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(freeze_layers: usize, freeze_encoder: bool, decay: f64) -> ParamPolicy {
        ParamPolicy {
            num_layers: 2,
            freeze_layers,
            freeze_encoder,
            layerwise_lr_decay: decay,
            weight_decay: 0.01,
            prior_weight_decay: false,
        }
    }

    /// Zhang et al.'s exponents — head and pooler η, top layer η·ξ, layer i
    /// η·ξ^(L−i), embeddings η·ξ^(L+1) (was: top layer η, embeddings η·ξ^L).
    #[test]
    fn layerwise_lr_decay_follows_zhang() {
        let p = policy(0, false, 0.5);
        // The groups as the run sees them: BERT's own classification of its names.
        let vs = VarStore::new(tch::Device::Cpu);
        let bert = stab_bert::BertModel::new(vs.root(), &stab_bert::EncoderConfig::tiny(10));
        let group = |name: &str| Encoder::param_group(&bert, name);
        let scale = |name: &str| p.lr_scale(group(name));
        assert_eq!(scale("classifier.weight"), 1.0);
        assert_eq!(scale("pooler.dense.weight"), 1.0);
        assert_eq!(scale("encoder.layer.1.output.dense.weight"), 0.5);
        assert_eq!(scale("encoder.layer.0.attention.self.query.bias"), 0.25);
        assert_eq!(scale("embeddings.word_embeddings.weight"), 0.125);
        let mut flat = policy(0, false, 1.0);
        flat.num_layers = 12;
        assert_eq!(flat.lr_scale(group("embeddings.x")), 1.0);
        assert_eq!(p.lr_scale(ParamGroup::SharedLayers), 1.0);
    }

    #[test]
    fn freezing_takes_the_embeddings_and_bottom_layers_or_the_whole_encoder() {
        let groups = [
            ParamGroup::Embeddings,
            ParamGroup::Layer(0),
            ParamGroup::Layer(1),
            ParamGroup::Pooler,
            ParamGroup::Head,
        ];
        let frozen = |p: ParamPolicy| groups.map(|g| p.frozen(g));
        assert_eq!(frozen(policy(0, false, 1.0)), [false; 5]);
        assert_eq!(
            frozen(policy(1, false, 1.0)),
            [true, true, false, false, false]
        );
        assert_eq!(
            frozen(policy(2, false, 1.0)),
            [true, true, true, false, false]
        );
        assert_eq!(
            frozen(policy(0, true, 1.0)),
            [true, true, true, true, false]
        );
        // Layers shared by all (ALBERT): frozen with all of them or not at all.
        let shared = |p: ParamPolicy| p.frozen(ParamGroup::SharedLayers);
        assert!(!shared(policy(0, false, 1.0)));
        assert!(shared(policy(2, false, 1.0)));
        assert!(shared(policy(0, true, 1.0)));
    }

    #[test]
    fn no_weight_decay_on_biases_and_layer_norm_weights() {
        let p = policy(0, false, 1.0);
        assert_eq!(
            p.weight_decay("encoder.layer.0.output.LayerNorm.weight"),
            0.0
        );
        assert_eq!(p.weight_decay("classifier.bias"), 0.0);
        assert_eq!(p.weight_decay("classifier.weight"), 0.01);
        // Every family's norm layers count as LayerNorm.
        assert_eq!(p.weight_decay("layers.1.attn_norm.weight"), 0.0);
        assert_eq!(p.weight_decay("final_norm.weight"), 0.0);
    }

    #[test]
    fn depths_beyond_the_model_are_named_errors() {
        let mut spec = RunSpec::resolve("devlin", &toml::Table::new()).unwrap();
        spec.reinit_layers = 3;
        let e = ParamPolicy::new(&spec, 2).unwrap_err().to_string();
        assert_eq!(e, "reinit_layers = 3 but the model has 2 layers");
    }
}
