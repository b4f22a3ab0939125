/*===- flowrt.h - The runtime's C interface for generated programs --------===*
 *
 * Programs that `flowc build` makes are a generated host schedule (C++ that
 * never includes LibTorch headers) plus kernels compiled ahead of time, linked
 * with libflowrt. They talk to the runtime only through this small, versioned
 * `extern "C"` interface, so building a spec compiles one small file.
 *
 * A generated program fills one `flowrt_program` and calls `flowrt_main`. The
 * runtime owns everything else: argument parsing, data, the networks, the
 * optimizer, the training and sampling loops, checkpoints, logs and writers.
 *
 * Tensors handed to generated code are float32, row-major [rows, cols] and
 * contiguous, in CPU memory or, when flowrt_on_gpu, in the GPU's. They live until the end of the current training step or
 * sampling call (the runtime keeps them in a per-call arena).
 *
 * Bump FLOWRT_ABI_VERSION on any change to this file's types or functions.
 *===----------------------------------------------------------------------===*/
#ifndef FLOWRT_FLOWRT_H
#define FLOWRT_FLOWRT_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define FLOWRT_ABI_VERSION 21

typedef struct flowrt_ctx flowrt_ctx;       /* runtime state of one command */
typedef struct flowrt_tensor flowrt_tensor; /* float32 [rows, cols] */

/* The spec's data set: a built-in generator and its named parameters. */
typedef struct flowrt_data_desc {
  const char *generator; /* "toy.moons", "toy.eight_gaussians", ... */
  int64_t dim;           /* features per sample */
  int32_t num_params;
  const char *const *param_names;
  const double *param_values;
  int64_t classes; /* labels drawn with the data (x1, y ~ d): 0 = none */
  /* The shape of one sample, e.g. [1, 8, 8] for an image (channels first);
   * NULL for a vector of `dim` features. */
  int32_t rank;
  const int64_t *shape;
  /* generator "file": the samples' file (.npy, .csv or IDX) and the labels'
   * file (NULL without labels), absolute paths. */
  const char *path;
  const char *labels_path;
  /* A tokenizer (NULL: none): "patchify" cuts each [C, H, W] sample into
   * (H/patch)(W/patch) tokens of patch*patch*C values; the flow runs on the
   * tokens (dim values, as before) and samples are decoded to images.
   * "onehot": each value is a token id 0..vocab-1, drawn as a one-hot
   * vector of vocab values (dim * vocab in all); samples decode by argmax. */
  const char *tokenizer;
  int64_t patch;
  /* > 0: the values are token ids 0..vocab-1 (token data, or onehot's). */
  int64_t vocab;
  /* Token data written as text: the character of each id (vocab of them),
   * the first one padding (NULL: ids written as numbers). */
  const char *alphabet;
  /* Conditions (x1, c ~ d): each sample's condition, a tensor of cond_shape
   * (cond_rank dimensions, cond_dim values), from the file cond_path;
   * cond_dim 0 without. */
  const char *cond_path;
  int64_t cond_dim;
  int32_t cond_rank;
  const int64_t *cond_shape;
} flowrt_data_desc;

/* The role of a network's argument: a tensor (flattened into the first
 * layer), a time (a scalar the network embeds) or a class label (0..classes-1,
 * or -1 the null class, embedded with a learned table). */
#define FLOWRT_INPUT_TENSOR 0
#define FLOWRT_INPUT_TIME 1
#define FLOWRT_INPUT_LABEL 2

/* A network of the spec, applied to its arguments in the order of
 * input_roles: a velocity network is v(x, t) or v(x, t, y). A descriptor
 * with num_inputs 0 (a hand-written program) means v(x, t), or v(x, t, y)
 * when classes > 0, with out_dim = in_dim. */
typedef struct flowrt_model_desc {
  const char *name;       /* the spec's model name */
  const char *kind;       /* "mlp", "unet" or "dit" (images), "conv", "torchscript",
                             "standardize", "unstandardize" (a tokenizer's),
                             "tarflow" (a normalizing flow) */
  int64_t in_dim;         /* features of the tensor arguments together (x's) */
  int64_t out_dim;        /* features of the output */
  int32_t num_inputs;
  const int32_t *input_roles; /* [num_inputs]: FLOWRT_INPUT_* */
  const int64_t *input_dims;  /* [num_inputs]: features (1: a time or label) */
  int64_t width;          /* mlp: hidden units; unet: base channels; dit: token width */
  int64_t depth;          /* mlp: hidden layers; unet: levels; dit: blocks */
  const char *activation; /* "silu", "relu", "tanh", "gelu" */
  int64_t time_features;  /* Fourier features of each time; 0 feeds it as is */
  int64_t classes;        /* classes of the label argument (0: none) */
  int64_t heads;          /* dit: attention heads */
  int64_t patch;          /* dit: patch side in pixels */
  const char *path;       /* torchscript: the saved module's file;
                             checkpoint: the checkpoint file (absolute) */
  /* kind "checkpoint": a frozen network, another run's (its architecture
   * and weights from `path`): the network named checkpoint_model there
   * (NULL: its only one), with its EMA weights unless raw_weights. */
  const char *checkpoint_model;
  int32_t raw_weights;
  /* Its own learning rate (the train block's lr_NAME); 0: train.lr. */
  double lr;
  /* Trained by an earlier stage of the spec (the flow of that train block):
   * frozen here, with that stage's weights from its checkpoint in the run
   * directory (the runtime makes it kind "checkpoint"). NULL: none. */
  const char *stage;
  /* 1: a TorchScript module that keeps its saved weights (never trained). */
  int32_t frozen;
  /* conv: the image it takes [C, H, W] and the one it gives [C', H', W']
   * (rank 0 for the other kinds, whose rows are flat). */
  int32_t in_rank;
  const int64_t *in_shape;
  int32_t out_rank;
  const int64_t *out_shape;
  /* tarflow: its affine autoregressive steps (depth: transformer layers in
   * each, width and heads: theirs, patch: pixels of a token's side;
   * in_shape: the image [C, H, W]; out_dim 1: log p(x)), and the layers of
   * the block nearest the noise (0: depth; STARFlow's deep-shallow design). */
  int64_t blocks;
  int64_t deep;
} flowrt_model_desc;

/* Defaults of `train`, from the spec's train block. */
typedef struct flowrt_train_desc {
  int64_t steps;
  int64_t batch;
  const char *optimizer; /* the optimizer fn, e.g. "adam" */
  double lr;
  double ema; /* EMA decay of the weights; 0 disables */
  uint64_t seed;
} flowrt_train_desc;

/* Defaults of `sample`, from the spec's sample block. */
typedef struct flowrt_sample_desc {
  const char *solver; /* name of the sample block's solver (in `solvers`) */
  int64_t steps;      /* solver steps from t = 0 to t = 1 */
  /* 1 when the sample block gave `steps`: an adaptive tableau then runs at
   * fixed steps too; otherwise adaptive tableaux control their step size. */
  int32_t fixed_steps;
  double rtol, atol;  /* tolerances of step-size control */
  int64_t n;          /* samples */
  uint64_t seed;
  /* Conditional flows: the label of every sample (-1 the null class), or
   * FLOWRT_LABELS_BALANCED to give sample i the label i mod classes. */
  int64_t label;
  /* Guidance (NULL: none): the spec's fn, and the default of its scale
   * parameter `w` (`sample --guidance W` overrides it). */
  const char *guidance;
  double guidance_scale;
  /* Adaptive guidance (0: off): a sample's unconditional velocity is no
   * longer computed once cos(v_c, v_u) >= this threshold (it is v_c from
   * then on). Guidance momentum (0: off): the guidance direction
   * v_c - v_u is replaced by its running sum d = (v_c - v_u) + momentum d. */
  double adaptive_guidance;
  double guidance_momentum;
  /* The classes of the label the sampled field or the source takes (0:
   * none, or, in a hand-written program, the velocity network's). */
  int64_t classes;
  /* The values of the condition the sampled field or the source takes (0:
   * none): `sample --cond FILE` gives one per sample. */
  int64_t cond_dim;
  /* 1: the condition is a value the flow computes from its draw (a flow
   * decoder's tokens), not the data's condition: without `--cond`, the
   * tokenizer the flow decodes encodes drawn data points. */
  int32_t cond_computed;
  /* Features of one sample as the flow draws it (its x0's); 0: data.dim.
   * Samples are in the data's units when it is data.dim or the program
   * decodes them. */
  int64_t dim;
  /* A normalizing flow's inversion (its sample block; label and
   * guidance_scale above are its too): Jacobi iteration to this tolerance
   * (0: token by token), over groups of jacobi_block tokens (0: all), and
   * Tweedie's denoising step for training noise of deviation denoise (0:
   * none). */
  double jacobi;
  int64_t jacobi_block;
  double denoise;
  /* The time range sampling integrates (0 the source, 1 the data; to_t <
   * from_t: backwards, data to noise). Both 0, as in a zero-initialised
   * descriptor: 0 to 1. */
  double from_t, to_t;
  /* The sample block's time grid (`times:`; NULL: equal steps): the times
   * [rows, 1] at grid positions u [rows, 1] in [0, 1], rising from 0 to 1;
   * fixed step k of N runs from time_grid(k / N) to time_grid((k + 1) / N),
   * scaled into [from_t, to_t]. */
  flowrt_tensor *(*time_grid)(flowrt_ctx *ctx, flowrt_tensor *u);
  /* The flow's path from data points x1 [rows, dim] to time t, the source
   * drawn afresh (NULL when the flow's network input is no such path):
   * editing noises data to t, then samples from there (SDEdit). */
  flowrt_tensor *(*noised)(flowrt_ctx *ctx, flowrt_tensor *x1, double t);
} flowrt_sample_desc;

#define FLOWRT_LABELS_BALANCED (-2)

/* What the samples of a sampling call are conditioned on, one row per
 * sample: class labels [n, 1] (-1 the null class) and condition tensors
 * [n, cond_dim]; each NULL when the program takes none (sample.classes,
 * sample.cond_dim). Never NULL itself. */
typedef struct flowrt_conditions {
  flowrt_tensor *labels;
  flowrt_tensor *conds;
} flowrt_conditions;

/* One solver step from t to t + h of the flow's ODE for a batch x: writes
 * x + h sum_i b_i k_i to *next and, for an adaptive tableau, its error
 * estimate h sum_i (b_i - b_err_i) k_i to *error (else NULL). */
typedef void (*flowrt_step_fn)(flowrt_ctx *ctx, flowrt_tensor *x,
                               const flowrt_conditions *given, double t, double h,
                               flowrt_tensor **next, flowrt_tensor **error);

/* One step of per-sample step-size control: every sample has its own time
 * t and step h ([n, 1]); the generated controller accepts or rejects each
 * sample's step and writes the new x, t and h (h = 0 once t = 1). */
typedef void (*flowrt_adaptive_step_fn)(flowrt_ctx *ctx, flowrt_tensor *x,
                                        flowrt_tensor *t, flowrt_tensor *h,
                                        const flowrt_conditions *given,
                                        flowrt_tensor **x_next,
                                        flowrt_tensor **t_next,
                                        flowrt_tensor **h_next);

/* A Runge-Kutta method of the spec (every `solver` it defines or imports). */
typedef struct flowrt_solver {
  const char *name;
  int32_t stages;   /* field evaluations per step */
  int32_t order;    /* of the solution; 0 when the tableau does not say */
  int32_t adaptive; /* 1: the step also estimates its error */
  flowrt_step_fn step;
  flowrt_adaptive_step_fn adaptive_step; /* NULL unless adaptive */
  /* The Butcher tableau, for integrating augmented systems in the runtime
   * (likelihoods): c[stages], a[stages * stages] row-major (strictly lower
   * triangular), b[stages]. */
  const double *c, *a, *b;
} flowrt_solver;

/* The flow's source distribution, when it has a closed-form density:
 * "normal" (p0 mean, p1 std) or "uniform" (p0 low, p1 high) in every
 * feature; kind NULL otherwise. */
typedef struct flowrt_source_desc {
  const char *kind;
  double p0, p1;
} flowrt_source_desc;

/* A differentiable region of a flow: a generated kernel and its
 * reverse-mode kernel, which flowrt_region runs as one autograd function.
 * forward:  outputs[j][i] = region(inputs[0][i], ...) per sample i;
 * backward: input_adjoints (one per input that grad_inputs marks, in order)
 *           = the vector-Jacobian product with output_adjoints, per sample.
 * Every buffer is [n, cols] row-major, in the memory of the command's device
 * (flowrt_on_gpu). */
typedef void (*flowrt_region_forward_fn)(flowrt_ctx *ctx, int64_t n,
                                         float *const *inputs,
                                         float *const *outputs);
typedef void (*flowrt_region_backward_fn)(flowrt_ctx *ctx, int64_t n,
                                          float *const *inputs,
                                          float *const *output_adjoints,
                                          float *const *input_adjoints);
typedef struct flowrt_region_desc {
  flowrt_region_forward_fn forward;
  flowrt_region_backward_fn backward;
  int32_t num_inputs;
  const int32_t *grad_inputs; /* [num_inputs]: 1 if the input gets an adjoint */
  int32_t num_outputs;
  const int64_t *output_cols; /* [num_outputs] */
} flowrt_region_desc;

/* An encoder tokenizer (`tokenizer T = encoder(DATA, encode: ..., decode:
 * ...)`): one sample of DATA [data.dim] to its tokens, shape `shape`
 * ([K]: K scalar tokens; [K, D]: K tokens of D values), and back. Both run
 * on batches of rows with the program's networks, without gradients. */
typedef struct flowrt_tokenizer_desc {
  const char *name;
  int32_t rank;
  const int64_t *shape;
  flowrt_tensor *(*encode)(flowrt_ctx *ctx, flowrt_tensor *x);
  flowrt_tensor *(*decode)(flowrt_ctx *ctx, flowrt_tensor *z);
  /* A flow decoder (`decode: FLOW`): decode is NULL and tokens decode by
   * sampling this flow, the program's own, given them as its condition. */
  const char *decoder;
  /* `standardize: ...` (NULL: none): the models (kinds "standardize" and
   * "unstandardize") that end encode and start decode; the first trained
   * flow drawing from the tokenizer sets their statistics from its data. */
  const char *standardize;
  const char *unstandardize;
} flowrt_tokenizer_desc;

typedef struct flowrt_program {
  uint32_t abi_version; /* FLOWRT_ABI_VERSION of the generator */
  const char *flow_name;
  const char *spec_text; /* the spec, saved beside each run */
  flowrt_data_desc data;
  /* The networks the flow applies (flowrt_apply's `model` indexes them);
   * training optimizes all of them. */
  int32_t num_models;
  const flowrt_model_desc *models;
  /* The network the sampler integrates, v(x, t[, y]) (an index into
   * models); -1 when the field is closed-form. */
  int32_t velocity_model;
  flowrt_train_desc train;
  flowrt_sample_desc sample;

  /* Generated host schedule. */
  /* One training step's loss (a scalar tensor tracked by autograd): the sum
   * of the flow's losses, which it hands to flowrt_total_loss. */
  flowrt_tensor *(*train_loss)(flowrt_ctx *ctx, int64_t step);
  /* The flow's losses, by name, in the order of flowrt_total_loss's terms. */
  int32_t num_losses;
  const char *const *loss_names;
  /* Draws n source points x0 ([n, dim]); a source written with the data's
   * label or condition takes each sample's (a NULL label: the null class). */
  flowrt_tensor *(*sample_source)(flowrt_ctx *ctx, int64_t n,
                                  const flowrt_conditions *given);
  /* Every solver of the spec; `sample.solver` names the default. */
  int32_t num_solvers;
  const flowrt_solver *solvers;
  /* The flow's velocity v(x, t) for a batch x at time t (the sampler's
   * canonical time: 0 source, 1 data). */
  flowrt_tensor *(*velocity)(flowrt_ctx *ctx, flowrt_tensor *x,
                             const flowrt_conditions *given, double t);
  /* A closed-form field's Jacobian-vector product J_x v(x, t) e (NULL for a
   * network, whose derivatives the runtime takes with autograd). */
  flowrt_tensor *(*jvp)(flowrt_ctx *ctx, flowrt_tensor *x,
                        const flowrt_conditions *given, double t, flowrt_tensor *e);
  /* 1 when the flow was written in reversed time (its network sees 1 - t
   * and its velocity is -v). */
  int32_t reverse_time;
  flowrt_source_desc source;

  const char *ptx; /* PTX of every kernel (for GPU hosts); may be NULL */

  /* The whole fixed-step solve in one kernel launch (NULL unless the field
   * is an unguided MLP): `steps` steps of size h from t0 for every sample
   * of x, with the network evaluated inside the kernel from
   * flowrt_net_weights and the explicit Runge-Kutta method given by
   * `tableau`, [1, 1 + 2 s + s * s] floats: s, c[s], a[s * s] row-major,
   * b[s], for any s <= trajectory_max_stages. */
  flowrt_tensor *(*trajectory)(flowrt_ctx *ctx, flowrt_tensor *x,
                               const flowrt_conditions *given, flowrt_tensor *tableau,
                               double t0, double h, int64_t steps);
  int32_t trajectory_max_stages;

  /* The optimizer update, generated from the spec's optimizer fn: one kernel
   * over every parameter, in place. params, grads and each of the
   * optimizer_state state buffers are [P, 1] (every network's parameters in
   * one flat buffer); step counts from 1. */
  void (*optimizer_step)(flowrt_ctx *ctx, flowrt_tensor *params,
                         flowrt_tensor *grads, flowrt_tensor *const *state,
                         float lr, float step);
  int32_t optimizer_state;
  /* ema = decay ema + (1 - decay) params, in place ([P, 1] each). */
  void (*ema_step)(flowrt_ctx *ctx, flowrt_tensor *ema, flowrt_tensor *params,
                   float decay);

  /* A spec with several train blocks trains in stages: each block's
   * program, in the spec's order (this one among them when its flow
   * trains). `train` runs them in order, stage F in RUN/F; a network an
   * earlier stage trains is frozen in the later ones (model `stage`).
   * 0 and NULL: one stage, run in RUN itself. */
  int32_t num_stages;
  const struct flowrt_program *stages;
  /* The spec's encoder tokenizer (the one the flow draws from, else the
   * spec's only one); its name NULL when there is none. */
  flowrt_tokenizer_desc tokenizer;
  /* 1 when the flow draws from `tokenizer`: its samples are tokens, which
   * `sample` and `eval` decode to the data's units. */
  int32_t samples_tokens;
} flowrt_program;

/* Entry point of a generated program: `train`, `sample`, `info`. */
int flowrt_main(const flowrt_program *program, int argc, char **argv);

/* ---- Called by the generated host schedule ---- */

/* A new uninitialised tensor [rows, cols] in the current call's arena. */
flowrt_tensor *flowrt_empty(flowrt_ctx *ctx, int64_t rows, int64_t cols);
/* A tensor [rows, cols] filled with `value`. */
flowrt_tensor *flowrt_full(flowrt_ctx *ctx, int64_t rows, int64_t cols,
                           double value);
/* factor * x, a new tensor. */
flowrt_tensor *flowrt_scale(flowrt_ctx *ctx, flowrt_tensor *x, double factor);
/* Contiguous float32 storage of a tensor (the values, never its gradient). */
float *flowrt_data(flowrt_tensor *tensor);
int64_t flowrt_rows(const flowrt_tensor *tensor);
int64_t flowrt_cols(const flowrt_tensor *tensor);

/* The seed of the current command (train --seed / sample --seed). */
uint64_t flowrt_seed(const flowrt_ctx *ctx);
/* The training step being computed: the counter of a differentiable
 * region's draws, which its forward and backward kernels share. */
int64_t flowrt_step(const flowrt_ctx *ctx);
/* The training batch size. */
int64_t flowrt_batch_size(const flowrt_ctx *ctx);
/* A fresh batch [n, dim] from the spec's data set; when `labels` is not
 * NULL, also the batch's class labels [n, 1] (0, 1, ..., as floats), and
 * when `conds` is not NULL its conditions [n, cond_dim]. */
flowrt_tensor *flowrt_data_batch(flowrt_ctx *ctx, int64_t n,
                                 flowrt_tensor **labels, flowrt_tensor **conds);
/* Network `model` (an index into program->models) applied to args[i]
 * ([n, input_dims[i]] each) -> [n, out_dim], tracked by autograd while
 * training, evaluated without gradients (EMA weights) while sampling.
 * Label -1 is the null class. */
flowrt_tensor *flowrt_apply(flowrt_ctx *ctx, int32_t model, flowrt_tensor *const *args);
/* The Jacobian-vector product of network `model` at args[i] along
 * tangents[i] (one per argument, of its shape): sum_i J_i tangents[i],
 * [n, out_dim]; what `ddt` of a network's output is. With `differentiated`
 * (and while training) it is itself differentiable, by double backward
 * (the loss's gradient reaches it); otherwise a constant, by forward-mode
 * AD. A label argument's tangent is ignored. */
flowrt_tensor *flowrt_apply_jvp(flowrt_ctx *ctx, int32_t model, flowrt_tensor *const *args,
                                flowrt_tensor *const *tangents, int32_t differentiated);
/* Guidance's two evaluations of the velocity network in one batched call
 * of 2n rows: returns v(x, t, y) and sets *unconditional to v(x, t, -1). */
flowrt_tensor *flowrt_net_guided(flowrt_ctx *ctx, flowrt_tensor *x,
                                 flowrt_tensor *t, flowrt_tensor *y,
                                 flowrt_tensor **unconditional);
/* The guidance scale of this `sample` command (the spec's `w`, or
 * --guidance). */
double flowrt_guidance_scale(const flowrt_ctx *ctx);
/* A fresh counter for the draws of one call of a sampler's step (1, 2, ...
 * in a run; the source draws with 0), so each step draws anew. */
int64_t flowrt_draw_counter(flowrt_ctx *ctx);
/* The step-size control settings of this `sample` command: which = 0 for
 * rtol, 1 for atol, 2 for the largest step. */
double flowrt_tolerance(const flowrt_ctx *ctx, int32_t which);
/* The sampling network's parameters in one flat float32 buffer [1, P],
 * for kernels that evaluate the MLP themselves. For layers l = 0..depth
 * (depth hidden layers, then the output layer), in order: W_l transposed,
 * [in_l, out_l] row-major, then the bias [out_l]. The first layer's inputs
 * are x, the time features (t, or sin(2 pi f t) for f = 1..F/2 then the
 * cosines), then the class embedding; a conditional network's embedding
 * table [classes + 1, 32] (the last row the null class) follows the layers.
 * `count` is the P the compiler laid out; a mismatch is an error. Cached
 * for the command. */
flowrt_tensor *flowrt_net_weights(flowrt_ctx *ctx, int64_t count);
/* 1 when this command runs on a GPU: the generated host code then launches
 * the program's PTX kernels with flowrt_launch instead of calling the CPU
 * kernels. */
int flowrt_on_gpu(const flowrt_ctx *ctx);
/* On a GPU: the address of a device int64 holding `step`, the random-number
 * counter of a PTX kernel about to be launched (GPU kernels read it from
 * memory). While the runtime captures a training step as a CUDA graph it
 * returns the buffer without writing it, and writes each step's value there
 * before the graph's replay, so replays draw new noise. */
int64_t *flowrt_gpu_step(flowrt_ctx *ctx, int64_t step);
/* On a GPU: the address of a device float holding `value`, the uniform
 * argument `index` of PTX kernel `kernel` (the optimizer's and the EMA's
 * kernels read theirs from memory). Like flowrt_gpu_step, it is not written
 * while a training step is being captured: before each replay the runtime
 * calls the optimizer and EMA host code with launches off, which writes
 * the step's values. */
float *flowrt_gpu_scalar(flowrt_ctx *ctx, const char *kernel, int32_t index, float value);
/* Launches PTX kernel `kernel` with one thread per row; args[i] points at
 * the value of its i-th parameter (the CPU kernel's parameters, in order). */
void flowrt_launch(flowrt_ctx *ctx, const char *kernel, int64_t rows, void **args);
/* Runs fn(env, b, e) over row ranges [b, e) that cover [0, n), on the
 * runtime's threads, and returns when all are done. */
void flowrt_parallel_rows(flowrt_ctx *ctx, int64_t n,
                          void (*fn)(void *env, int64_t b, int64_t e), void *env);
/* Runs a differentiable region on inputs [n, cols_k] and sets outputs[j] to
 * new [n, output_cols[j]] tensors; autograd differentiates through it with
 * the region's backward kernel (to the inputs grad_inputs marks). */
void flowrt_region(flowrt_ctx *ctx, const flowrt_region_desc *region,
                   flowrt_tensor *const *inputs, flowrt_tensor **outputs);
/* The mean over the batch of a per-sample value [n, 1] (a loss), [1, 1],
 * tracked by autograd. */
flowrt_tensor *flowrt_batch_mean(flowrt_ctx *ctx, flowrt_tensor *x);
/* Every row of x [n, cols] replaced by the mean of its rows (Flow's
 * batch_mean), tracked by autograd. */
flowrt_tensor *flowrt_rows_mean(flowrt_ctx *ctx, flowrt_tensor *x);
/* The sum of a training step's loss terms ([1, 1] each, in the order of
 * program->loss_names), tracked by autograd; the runtime also adds each
 * term's value to its metrics. */
flowrt_tensor *flowrt_total_loss(flowrt_ctx *ctx, int32_t num_terms,
                                 flowrt_tensor *const *terms);

#ifdef __cplusplus
}
#endif

#endif /* FLOWRT_FLOWRT_H */
