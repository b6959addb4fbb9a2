`timescale 1ns/1ps
module tb;
  reg clk;
  reg rst;
  reg [31:0] acc;
  reg [31:0] multiplier;
  reg [5:0] shift;
  wire [7:0] out;
  wire saturated;
  reg [31:0] v_acc [0:1999];
  reg [31:0] v_multiplier [0:1999];
  reg [5:0] v_shift [0:1999];
  reg [7:0] x_out [0:1999];
  reg [0:0] x_saturated [0:1999];
  integer i;
  integer errors;
  reg bad;
  tflite_requantize_int8 dut (
    .clk(clk),
    .rst(rst),
    .acc(acc),
    .multiplier(multiplier),
    .shift(shift),
    .out(out),
    .saturated(saturated)
  );
  initial begin
    $readmemh("tb_acc.hex", v_acc);
    $readmemh("tb_multiplier.hex", v_multiplier);
    $readmemh("tb_shift.hex", v_shift);
    $readmemh("tb_out.hex", x_out);
    $readmemh("tb_saturated.hex", x_saturated);
    errors = 0;
    clk = 0;
    rst = 0;
    for (i = 0; i < 2000; i = i + 1) begin
      acc = v_acc[i];
      multiplier = v_multiplier[i];
      shift = v_shift[i];
      #1 clk = 1;
      #1;
      bad = 0;
      if (out !== x_out[i]) begin
        bad = 1;
        if (errors < 10) $display("MISMATCH cycle %0d out %h expected %h", i, out, x_out[i]);
      end
      if (saturated !== x_saturated[i]) begin
        bad = 1;
        if (errors < 10) $display("MISMATCH cycle %0d saturated %h expected %h", i, saturated, x_saturated[i]);
      end
      if (bad) errors = errors + 1;
      clk = 0;
      #1;
    end
    $display("RESULT %0d %0d", 2000, errors);
    $finish;
  end
endmodule
