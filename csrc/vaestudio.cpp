// Operator schemas of the vaestudio library. Kernels live in cpu/<family>.cpp
// and cuda/<family>.cu; fake (meta) kernels and autograd are registered from
// Python (vaestudio/ops/_fake.py, vaestudio/ops/_autograd.py).
#include <torch/library.h>

TORCH_LIBRARY(vaestudio, m) {
  // Quantisation: x (N, D), codebook (K, D) -> indices int64 (N,), squared distance float32 (N,).
  m.def("nearest_code(Tensor x, Tensor codebook) -> (Tensor indices, Tensor sqdist)");
  // Per-code counts float32 (K,) and sums float32 (K, D) of the rows of x assigned to each code.
  m.def("code_stats(Tensor x, Tensor indices, int num_codes) -> (Tensor counts, Tensor sums)");
  // EMA codebook update, in place on codebook, cluster_size and embed_sum.
  m.def(
      "ema_update_(Tensor(a!) codebook, Tensor(b!) cluster_size, Tensor(c!) embed_sum, "
      "Tensor counts, Tensor sums, float decay, float eps) -> ()");
  // PixelCNN masked convolution, stride 1, 'same' padding. mask_type: A, B, vertical_A, vertical_B.
  m.def("masked_conv2d(Tensor x, Tensor weight, Tensor? bias, str mask_type) -> Tensor");
  m.def(
      "masked_conv2d_backward(Tensor grad_output, Tensor x, Tensor weight, str mask_type, "
      "bool[3] output_mask) -> (Tensor grad_x, Tensor grad_weight, Tensor grad_bias)");
  // Cached autoregressive sampling of a code map from the gated PixelCNN prior
  // (parameter layout: vaestudio/models/pixelcnn.py, GatedPixelCNN.sampler_parameters).
  // condition_bias: (B, L, 4C), one bias per sample and layer, or (B, L, 4C, H, W), one per position too.
  // A condition_bias of 2B samples guides: rows B.. are negative conditions and every draw uses
  // negative + guidance_scale * (conditioned - negative) logits (classifier-free guidance).
  m.def(
      "pixelcnn_sample(Tensor[] parameters, Tensor condition_bias, Tensor uniforms, "
      "Tensor fixed_codes, Tensor resample_mask, int kernel_size, float temperature, int top_k, "
      "float guidance_scale=1.0) -> Tensor");
}

// An empty Python module, so that the prebuilt library imports as `vaestudio._C`
// (importing it runs the registrations above). The JIT build loads the same
// library with torch.ops.load_library instead and never calls this.
#include <Python.h>
PyMODINIT_FUNC PyInit__C(void) {  // PyMODINIT_FUNC: extern "C" and, on Windows, exported
  static struct PyModuleDef module_definition = {PyModuleDef_HEAD_INIT, "_C", nullptr, -1, nullptr};
  return PyModule_Create(&module_definition);
}
