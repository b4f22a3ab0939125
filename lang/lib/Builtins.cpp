//===- Builtins.cpp - The built-in functions and constants ----------------===//
//
// The table behind flowc/Lang/Builtins.h: one row per built-in function,
// grouped by kind, and the two built-in constants.
//
//===----------------------------------------------------------------------===//

#include "flowc/Lang/Builtins.h"

using namespace flowc;

namespace {

using K = BuiltinKind;
using Op = BuiltinOp;

const std::vector<BuiltinFunction> kBuiltins = {
    {"exp", Op::Exp, K::Math, 1},
    {"log", Op::Log, K::Math, 1},
    {"log1p", Op::Log1p, K::Math, 1},
    {"expm1", Op::Expm1, K::Math, 1},
    {"sin", Op::Sin, K::Math, 1},
    {"cos", Op::Cos, K::Math, 1},
    {"tan", Op::Tan, K::Math, 1},
    {"sqrt", Op::Sqrt, K::Math, 1},
    {"tanh", Op::Tanh, K::Math, 1},
    {"erf", Op::Erf, K::Math, 1},
    {"sigmoid", Op::Sigmoid, K::Math, 1},
    {"abs", Op::Abs, K::Math, 1},
    {"round", Op::Round, K::Math, 1}, // half to even, as torch.round
    {"floor", Op::Floor, K::Math, 1},
    {"sg", Op::Sg, K::Math, 1}, // stop-gradient
    {"batch_mean", Op::BatchMean, K::Math, 1}, // the mean over the batch
    {"sum", Op::Sum, K::Reduce, 1},
    {"mean", Op::Mean, K::Reduce, 1},
    {"norm", Op::Norm, K::Reduce, 1},
    {"softmax", Op::Softmax, K::Softmax, 1},
    {"where", Op::Where, K::Where, 3},
    {"clamp", Op::Clamp, K::Clamp, 3},
    {"min", Op::Min, K::MinMax, 2},
    {"max", Op::Max, K::MinMax, 2},
    {"one_hot", Op::OneHot, K::OneHot, 2},
    {"reshape", Op::Reshape, K::Reshape, 2},
    {"drop", Op::Drop, K::Drop, 2},
    {"concat", Op::Concat, K::Concat, -2},
    {"stack", Op::Stack, K::Stack, -2},
    {"normal", Op::Normal, K::Normal, -1},
    {"uniform", Op::Uniform, K::Uniform, -1},
    {"categorical", Op::Categorical, K::Categorical, -1},
    {"ddt", Op::Ddt, K::Ddt, 1},
    {"jvp", Op::Jvp, K::Jvp, 3},
    {"mse", Op::Mse, K::Mse, 2},
    {"cross_entropy", Op::CrossEntropy, K::CrossEntropy, 2},
};

} // namespace

const std::vector<BuiltinFunction> &flowc::builtinFunctions() {
  return kBuiltins;
}

const BuiltinFunction *flowc::lookupBuiltin(std::string_view name) {
  for (const BuiltinFunction &fn : kBuiltins)
    if (name == fn.name)
      return &fn;
  return nullptr;
}

BuiltinKind flowc::builtinKind(std::string_view name) {
  const BuiltinFunction *fn = lookupBuiltin(name);
  return fn ? fn->kind : BuiltinKind::None;
}

std::optional<double> flowc::builtinConstant(std::string_view name) {
  if (name == "pi")
    return 3.14159265358979323846;
  if (name == "e")
    return 2.71828182845904523536;
  return std::nullopt;
}

bool flowc::isBuiltinName(std::string_view name) {
  return isBuiltinFunctionName(name) || builtinConstant(name).has_value();
}

bool flowc::isBuiltinFunctionName(std::string_view name) { return lookupBuiltin(name); }
