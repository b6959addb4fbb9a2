`timescale 1ns/1ps
module tb;
  reg clk;
  reg rst;
  reg [7:0] a;
  reg [7:0] w;
  reg en;
  reg load;
  reg clear;
  reg [31:0] bias;
  wire [31:0] acc;
  wire overflow;
  wire [7:0] a_out;
  wire [7:0] w_out;
  wire en_out;
  wire load_out;
  wire clear_out;
  reg [7:0] v_a [0:1999];
  reg [7:0] v_w [0:1999];
  reg [0:0] v_en [0:1999];
  reg [0:0] v_load [0:1999];
  reg [0:0] v_clear [0:1999];
  reg [31:0] v_bias [0:1999];
  reg [31:0] x_acc [0:1999];
  reg [0:0] x_overflow [0:1999];
  integer i;
  integer errors;
  reg bad;
  affine_int8_mac dut (
    .clk(clk),
    .rst(rst),
    .a(a),
    .w(w),
    .en(en),
    .load(load),
    .clear(clear),
    .bias(bias),
    .acc(acc),
    .overflow(overflow),
    .a_out(a_out),
    .w_out(w_out),
    .en_out(en_out),
    .load_out(load_out),
    .clear_out(clear_out)
  );
  initial begin
    $readmemh("tb_a.hex", v_a);
    $readmemh("tb_w.hex", v_w);
    $readmemh("tb_en.hex", v_en);
    $readmemh("tb_load.hex", v_load);
    $readmemh("tb_clear.hex", v_clear);
    $readmemh("tb_bias.hex", v_bias);
    $readmemh("tb_acc.hex", x_acc);
    $readmemh("tb_overflow.hex", x_overflow);
    errors = 0;
    clk = 0;
    rst = 0;
    for (i = 0; i < 2000; i = i + 1) begin
      a = v_a[i];
      w = v_w[i];
      en = v_en[i];
      load = v_load[i];
      clear = v_clear[i];
      bias = v_bias[i];
      #1 clk = 1;
      #1;
      bad = 0;
      if (acc !== x_acc[i]) begin
        bad = 1;
        if (errors < 10) $display("MISMATCH cycle %0d acc %h expected %h", i, acc, x_acc[i]);
      end
      if (overflow !== x_overflow[i]) begin
        bad = 1;
        if (errors < 10) $display("MISMATCH cycle %0d overflow %h expected %h", i, overflow, x_overflow[i]);
      end
      if (bad) errors = errors + 1;
      clk = 0;
      #1;
    end
    $display("RESULT %0d %0d", 2000, errors);
    $finish;
  end
endmodule
