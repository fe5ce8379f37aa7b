// PixelCNN masked convolution on the CPU: stride 1, 'same' padding, odd kernels.
//
// The taps a mask keeps form at most two rectangles of the kernel: the rows above the
// centre (all columns) and a run of the centre row starting at its left edge. Each
// rectangle is an ordinary valid convolution (at::convolution, oneDNN where available) of
// the input padded once on the top, left and right (no tap looks below the centre row),
// over the window the rectangle sees; the results add up. Masked taps cost nothing and
// get a zero gradient.
#include <ATen/ATen.h>
#include <torch/library.h>

#include <string>
#include <vector>

namespace vaestudio {
namespace {

// Rows [row_begin, row_end) x columns [column_begin, column_end) of the kernel.
struct KernelBlock {
  int64_t row_begin, row_end, column_begin, column_end;
  int64_t rows() const { return row_end - row_begin; }
  int64_t columns() const { return column_end - column_begin; }
};

std::vector<KernelBlock> kept_blocks(int64_t kernel_height, int64_t kernel_width, const std::string& mask_type) {
  const int64_t centre_row = kernel_height / 2, centre_column = kernel_width / 2;
  int64_t centre_row_columns = 0;  // kept taps of the centre row, counted from its left edge
  if (mask_type == "A") {
    centre_row_columns = centre_column;
  } else if (mask_type == "B") {
    centre_row_columns = centre_column + 1;
  } else if (mask_type == "vertical_B") {
    centre_row_columns = kernel_width;
  } else {
    TORCH_CHECK(mask_type == "vertical_A", "masked_conv2d: mask_type must be A, B, vertical_A or vertical_B, got ",
                mask_type);
  }
  std::vector<KernelBlock> blocks;
  if (centre_row_columns == kernel_width) {  // vertical_B: one block, rows above and the centre row
    blocks.push_back({0, centre_row + 1, 0, kernel_width});
    return blocks;
  }
  if (centre_row > 0) blocks.push_back({0, centre_row, 0, kernel_width});
  if (centre_row_columns > 0) blocks.push_back({centre_row, centre_row + 1, 0, centre_row_columns});
  return blocks;
}

void check_arguments(const at::Tensor& x, const at::Tensor& weight) {
  TORCH_CHECK(x.dim() == 4, "masked_conv2d: x must be (B, Cin, H, W), got ", x.sizes());
  TORCH_CHECK(weight.dim() == 4, "masked_conv2d: weight must be (Cout, Cin, kh, kw), got ", weight.sizes());
  TORCH_CHECK(x.size(1) == weight.size(1), "masked_conv2d: x has ", x.size(1), " channels, weight expects ",
              weight.size(1));
  TORCH_CHECK(weight.size(2) % 2 == 1 && weight.size(3) % 2 == 1, "masked_conv2d: the kernel must be odd, got ",
              weight.size(2), " x ", weight.size(3));
  TORCH_CHECK(x.scalar_type() == weight.scalar_type(), "masked_conv2d: x and weight must share a dtype");
}

// x (B, Cin, H, W) padded by kh // 2 rows on top and kw // 2 columns left and right: (B, Cin, H + ph, W + 2 pw).
at::Tensor pad_top_left_right(const at::Tensor& x, const at::Tensor& weight) {
  const int64_t top = weight.size(2) / 2, side = weight.size(3) / 2;
  return at::constant_pad_nd(x, {side, side, top, 0}, 0);
}

// The window of the padded input that a block sees: (B, Cin, H + rows - 1, W + columns - 1).
at::Tensor block_window(const at::Tensor& padded, const KernelBlock& block, int64_t height, int64_t width) {
  return padded.narrow(2, block.row_begin, height + block.rows() - 1)
      .narrow(3, block.column_begin, width + block.columns() - 1)
      .contiguous();
}

at::Tensor block_weight(const at::Tensor& weight, const KernelBlock& block) {
  return weight.narrow(2, block.row_begin, block.rows()).narrow(3, block.column_begin, block.columns()).contiguous();
}

at::Tensor valid_convolution(const at::Tensor& input, const at::Tensor& weight, const std::optional<at::Tensor>& bias) {
  return at::convolution(input, weight, bias, /*stride=*/{1, 1}, /*padding=*/{0, 0}, /*dilation=*/{1, 1},
                         /*transposed=*/false, /*output_padding=*/{0, 0}, /*groups=*/1);
}

at::Tensor masked_conv2d_cpu(const at::Tensor& x, const at::Tensor& weight, const std::optional<at::Tensor>& bias,
                             c10::string_view mask_type) {
  check_arguments(x, weight);
  const int64_t batch = x.size(0), height = x.size(2), width = x.size(3), out_channels = weight.size(0);
  const auto blocks = kept_blocks(weight.size(2), weight.size(3), std::string(mask_type));
  if (blocks.empty() || x.numel() == 0) {  // nothing kept (1x1 kernel with mask A), or an empty input
    auto output = at::zeros({batch, out_channels, height, width}, x.options());
    if (bias.has_value() && bias->defined()) output.add_(bias->view({1, out_channels, 1, 1}));
    return output;
  }
  const auto padded = pad_top_left_right(x, weight);  // (B, Cin, H + ph, W + 2 pw)
  at::Tensor output;  // (B, Cout, H, W)
  for (size_t index = 0; index < blocks.size(); ++index) {
    const auto& block = blocks[index];
    auto part = valid_convolution(block_window(padded, block, height, width), block_weight(weight, block),
                                  index == 0 ? bias : std::nullopt);
    if (index == 0) {
      output = part;
    } else {
      output.add_(part);
    }
  }
  return output;
}

std::tuple<at::Tensor, at::Tensor, at::Tensor> masked_conv2d_backward_cpu(const at::Tensor& grad_output,
                                                                          const at::Tensor& x,
                                                                          const at::Tensor& weight,
                                                                          c10::string_view mask_type,
                                                                          std::array<bool, 3> output_mask) {
  check_arguments(x, weight);
  const int64_t height = x.size(2), width = x.size(3);
  const int64_t top = weight.size(2) / 2, side = weight.size(3) / 2;
  const auto blocks = kept_blocks(weight.size(2), weight.size(3), std::string(mask_type));
  const auto grad = grad_output.contiguous();  // (B, Cout, H, W)

  at::Tensor grad_x = x.new_empty({0}), grad_weight = weight.new_empty({0}), grad_bias = weight.new_empty({0});
  at::Tensor grad_padded;  // (B, Cin, H + ph, W + 2 pw)
  if (output_mask[0]) grad_padded = at::zeros({x.size(0), x.size(1), height + top, width + 2 * side}, x.options());
  if (output_mask[1]) grad_weight = at::zeros_like(weight, at::MemoryFormat::Contiguous);
  if ((output_mask[0] || output_mask[1]) && x.numel() > 0 && !blocks.empty()) {
    const auto padded = pad_top_left_right(x, weight);
    for (const auto& block : blocks) {
      const auto window = block_window(padded, block, height, width);
      const auto kept_weight = block_weight(weight, block);
      auto grads = at::convolution_backward(grad, window, kept_weight, /*bias_sizes=*/std::nullopt,
                                            /*stride=*/{1, 1}, /*padding=*/{0, 0}, /*dilation=*/{1, 1},
                                            /*transposed=*/false, /*output_padding=*/{0, 0}, /*groups=*/1,
                                            {output_mask[0], output_mask[1], false});
      if (output_mask[0]) {
        grad_padded.narrow(2, block.row_begin, window.size(2))
            .narrow(3, block.column_begin, window.size(3))
            .add_(std::get<0>(grads));
      }
      if (output_mask[1]) {
        grad_weight.narrow(2, block.row_begin, block.rows())
            .narrow(3, block.column_begin, block.columns())
            .copy_(std::get<1>(grads));
      }
    }
  }
  if (output_mask[0]) grad_x = grad_padded.narrow(2, top, height).narrow(3, side, width).contiguous();
  if (output_mask[2]) grad_bias = grad.sum({0, 2, 3});
  return {grad_x, grad_weight, grad_bias};
}

}  // namespace

TORCH_LIBRARY_IMPL(vaestudio, CPU, m) {
  m.impl("masked_conv2d", &masked_conv2d_cpu);
  m.impl("masked_conv2d_backward", &masked_conv2d_backward_cpu);
}

}  // namespace vaestudio
