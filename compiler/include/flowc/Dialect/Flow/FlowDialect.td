//===- FlowDialect.td - The flow dialect -------------------*- tablegen -*-===//
//
// The `flow` dialect describes a flow-matching spec: module-level declarations
// (data, networks, solvers, train and sample settings), per-sample flow bodies
// (draws, path arithmetic in `arith`/`math`, network applications, ddt, loss),
// and the host schedule that calls outlined kernels between network calls.
//
//===----------------------------------------------------------------------===//
#ifndef FLOW_DIALECT_TD
#define FLOW_DIALECT_TD

include "mlir/IR/OpBase.td"

def Flow_Dialect : Dialect {
  let name = "flow";
  let summary = "Flow-matching specs, their fused kernels and host schedule";
  let description = [{
    A flow body is written for ONE sample: values are `f32` (per-sample
    scalars such as time) or `tensor<D x f32>` (per-sample feature vectors).
    The batch dimension is implicit. Kernels outlined from flow bodies keep
    these per-sample types; lowering maps them onto loops over the batch (CPU)
    or threads (GPU). Host functions use batched tensors `tensor<? x D x f32>`.
  }];
  let cppNamespace = "::flowc::flow";
}

class Flow_Op<string mnemonic, list<Trait> traits = []>
    : Op<Flow_Dialect, mnemonic, traits>;

#endif // FLOW_DIALECT_TD
