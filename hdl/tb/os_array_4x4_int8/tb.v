`timescale 1ns/1ps
module tb;
  reg clk;
  reg rst;
  reg start;
  reg [10:0] k_len;
  reg [16:0] folds;
  reg [7:0] a_0;
  reg [7:0] a_1;
  reg [7:0] a_2;
  reg [7:0] a_3;
  reg [7:0] w_0;
  reg [7:0] w_1;
  reg [7:0] w_2;
  reg [7:0] w_3;
  reg [23:0] bias_0;
  reg [23:0] bias_1;
  reg [23:0] bias_2;
  reg [23:0] bias_3;
  wire take;
  wire [9:0] k;
  wire [15:0] fold;
  wire busy;
  wire done;
  wire [23:0] acc_0_0;
  wire [23:0] acc_0_1;
  wire [23:0] acc_0_2;
  wire [23:0] acc_0_3;
  wire [23:0] acc_1_0;
  wire [23:0] acc_1_1;
  wire [23:0] acc_1_2;
  wire [23:0] acc_1_3;
  wire [23:0] acc_2_0;
  wire [23:0] acc_2_1;
  wire [23:0] acc_2_2;
  wire [23:0] acc_2_3;
  wire [23:0] acc_3_0;
  wire [23:0] acc_3_1;
  wire [23:0] acc_3_2;
  wire [23:0] acc_3_3;
  reg [0:0] v_start [0:186];
  reg [10:0] v_k_len [0:186];
  reg [16:0] v_folds [0:186];
  reg [7:0] v_a_0 [0:186];
  reg [7:0] v_a_1 [0:186];
  reg [7:0] v_a_2 [0:186];
  reg [7:0] v_a_3 [0:186];
  reg [7:0] v_w_0 [0:186];
  reg [7:0] v_w_1 [0:186];
  reg [7:0] v_w_2 [0:186];
  reg [7:0] v_w_3 [0:186];
  reg [23:0] v_bias_0 [0:186];
  reg [23:0] v_bias_1 [0:186];
  reg [23:0] v_bias_2 [0:186];
  reg [23:0] v_bias_3 [0:186];
  reg [23:0] x_acc_0_0 [0:186];
  reg [23:0] x_acc_0_1 [0:186];
  reg [23:0] x_acc_0_2 [0:186];
  reg [23:0] x_acc_0_3 [0:186];
  reg [23:0] x_acc_1_0 [0:186];
  reg [23:0] x_acc_1_1 [0:186];
  reg [23:0] x_acc_1_2 [0:186];
  reg [23:0] x_acc_1_3 [0:186];
  reg [23:0] x_acc_2_0 [0:186];
  reg [23:0] x_acc_2_1 [0:186];
  reg [23:0] x_acc_2_2 [0:186];
  reg [23:0] x_acc_2_3 [0:186];
  reg [23:0] x_acc_3_0 [0:186];
  reg [23:0] x_acc_3_1 [0:186];
  reg [23:0] x_acc_3_2 [0:186];
  reg [23:0] x_acc_3_3 [0:186];
  reg [0:0] x_done [0:186];
  reg m_acc_0_0 [0:186];
  reg m_acc_0_1 [0:186];
  reg m_acc_0_2 [0:186];
  reg m_acc_0_3 [0:186];
  reg m_acc_1_0 [0:186];
  reg m_acc_1_1 [0:186];
  reg m_acc_1_2 [0:186];
  reg m_acc_1_3 [0:186];
  reg m_acc_2_0 [0:186];
  reg m_acc_2_1 [0:186];
  reg m_acc_2_2 [0:186];
  reg m_acc_2_3 [0:186];
  reg m_acc_3_0 [0:186];
  reg m_acc_3_1 [0:186];
  reg m_acc_3_2 [0:186];
  reg m_acc_3_3 [0:186];
  integer i;
  integer errors;
  reg bad;
  os_array_4x4_int8 dut (
    .clk(clk),
    .rst(rst),
    .start(start),
    .k_len(k_len),
    .folds(folds),
    .a_0(a_0),
    .a_1(a_1),
    .a_2(a_2),
    .a_3(a_3),
    .w_0(w_0),
    .w_1(w_1),
    .w_2(w_2),
    .w_3(w_3),
    .bias_0(bias_0),
    .bias_1(bias_1),
    .bias_2(bias_2),
    .bias_3(bias_3),
    .take(take),
    .k(k),
    .fold(fold),
    .busy(busy),
    .done(done),
    .acc_0_0(acc_0_0),
    .acc_0_1(acc_0_1),
    .acc_0_2(acc_0_2),
    .acc_0_3(acc_0_3),
    .acc_1_0(acc_1_0),
    .acc_1_1(acc_1_1),
    .acc_1_2(acc_1_2),
    .acc_1_3(acc_1_3),
    .acc_2_0(acc_2_0),
    .acc_2_1(acc_2_1),
    .acc_2_2(acc_2_2),
    .acc_2_3(acc_2_3),
    .acc_3_0(acc_3_0),
    .acc_3_1(acc_3_1),
    .acc_3_2(acc_3_2),
    .acc_3_3(acc_3_3)
  );
  initial begin
    $readmemh("tb_start.hex", v_start);
    $readmemh("tb_k_len.hex", v_k_len);
    $readmemh("tb_folds.hex", v_folds);
    $readmemh("tb_a_0.hex", v_a_0);
    $readmemh("tb_a_1.hex", v_a_1);
    $readmemh("tb_a_2.hex", v_a_2);
    $readmemh("tb_a_3.hex", v_a_3);
    $readmemh("tb_w_0.hex", v_w_0);
    $readmemh("tb_w_1.hex", v_w_1);
    $readmemh("tb_w_2.hex", v_w_2);
    $readmemh("tb_w_3.hex", v_w_3);
    $readmemh("tb_bias_0.hex", v_bias_0);
    $readmemh("tb_bias_1.hex", v_bias_1);
    $readmemh("tb_bias_2.hex", v_bias_2);
    $readmemh("tb_bias_3.hex", v_bias_3);
    $readmemh("tb_acc_0_0.hex", x_acc_0_0);
    $readmemh("tb_acc_0_1.hex", x_acc_0_1);
    $readmemh("tb_acc_0_2.hex", x_acc_0_2);
    $readmemh("tb_acc_0_3.hex", x_acc_0_3);
    $readmemh("tb_acc_1_0.hex", x_acc_1_0);
    $readmemh("tb_acc_1_1.hex", x_acc_1_1);
    $readmemh("tb_acc_1_2.hex", x_acc_1_2);
    $readmemh("tb_acc_1_3.hex", x_acc_1_3);
    $readmemh("tb_acc_2_0.hex", x_acc_2_0);
    $readmemh("tb_acc_2_1.hex", x_acc_2_1);
    $readmemh("tb_acc_2_2.hex", x_acc_2_2);
    $readmemh("tb_acc_2_3.hex", x_acc_2_3);
    $readmemh("tb_acc_3_0.hex", x_acc_3_0);
    $readmemh("tb_acc_3_1.hex", x_acc_3_1);
    $readmemh("tb_acc_3_2.hex", x_acc_3_2);
    $readmemh("tb_acc_3_3.hex", x_acc_3_3);
    $readmemh("tb_done.hex", x_done);
    $readmemh("tb_acc_0_0_mask.hex", m_acc_0_0);
    $readmemh("tb_acc_0_1_mask.hex", m_acc_0_1);
    $readmemh("tb_acc_0_2_mask.hex", m_acc_0_2);
    $readmemh("tb_acc_0_3_mask.hex", m_acc_0_3);
    $readmemh("tb_acc_1_0_mask.hex", m_acc_1_0);
    $readmemh("tb_acc_1_1_mask.hex", m_acc_1_1);
    $readmemh("tb_acc_1_2_mask.hex", m_acc_1_2);
    $readmemh("tb_acc_1_3_mask.hex", m_acc_1_3);
    $readmemh("tb_acc_2_0_mask.hex", m_acc_2_0);
    $readmemh("tb_acc_2_1_mask.hex", m_acc_2_1);
    $readmemh("tb_acc_2_2_mask.hex", m_acc_2_2);
    $readmemh("tb_acc_2_3_mask.hex", m_acc_2_3);
    $readmemh("tb_acc_3_0_mask.hex", m_acc_3_0);
    $readmemh("tb_acc_3_1_mask.hex", m_acc_3_1);
    $readmemh("tb_acc_3_2_mask.hex", m_acc_3_2);
    $readmemh("tb_acc_3_3_mask.hex", m_acc_3_3);
    errors = 0;
    clk = 0;
    rst = 0;
    for (i = 0; i < 187; i = i + 1) begin
      start = v_start[i];
      k_len = v_k_len[i];
      folds = v_folds[i];
      a_0 = v_a_0[i];
      a_1 = v_a_1[i];
      a_2 = v_a_2[i];
      a_3 = v_a_3[i];
      w_0 = v_w_0[i];
      w_1 = v_w_1[i];
      w_2 = v_w_2[i];
      w_3 = v_w_3[i];
      bias_0 = v_bias_0[i];
      bias_1 = v_bias_1[i];
      bias_2 = v_bias_2[i];
      bias_3 = v_bias_3[i];
      #1;
      #1;
      bad = 0;
      if (m_acc_0_0[i] && acc_0_0 !== x_acc_0_0[i]) begin
        bad = 1;
        if (errors < 10) $display("MISMATCH cycle %0d acc_0_0 %h expected %h", i, acc_0_0, x_acc_0_0[i]);
      end
      if (m_acc_0_1[i] && acc_0_1 !== x_acc_0_1[i]) begin
        bad = 1;
        if (errors < 10) $display("MISMATCH cycle %0d acc_0_1 %h expected %h", i, acc_0_1, x_acc_0_1[i]);
      end
      if (m_acc_0_2[i] && acc_0_2 !== x_acc_0_2[i]) begin
        bad = 1;
        if (errors < 10) $display("MISMATCH cycle %0d acc_0_2 %h expected %h", i, acc_0_2, x_acc_0_2[i]);
      end
      if (m_acc_0_3[i] && acc_0_3 !== x_acc_0_3[i]) begin
        bad = 1;
        if (errors < 10) $display("MISMATCH cycle %0d acc_0_3 %h expected %h", i, acc_0_3, x_acc_0_3[i]);
      end
      if (m_acc_1_0[i] && acc_1_0 !== x_acc_1_0[i]) begin
        bad = 1;
        if (errors < 10) $display("MISMATCH cycle %0d acc_1_0 %h expected %h", i, acc_1_0, x_acc_1_0[i]);
      end
      if (m_acc_1_1[i] && acc_1_1 !== x_acc_1_1[i]) begin
        bad = 1;
        if (errors < 10) $display("MISMATCH cycle %0d acc_1_1 %h expected %h", i, acc_1_1, x_acc_1_1[i]);
      end
      if (m_acc_1_2[i] && acc_1_2 !== x_acc_1_2[i]) begin
        bad = 1;
        if (errors < 10) $display("MISMATCH cycle %0d acc_1_2 %h expected %h", i, acc_1_2, x_acc_1_2[i]);
      end
      if (m_acc_1_3[i] && acc_1_3 !== x_acc_1_3[i]) begin
        bad = 1;
        if (errors < 10) $display("MISMATCH cycle %0d acc_1_3 %h expected %h", i, acc_1_3, x_acc_1_3[i]);
      end
      if (m_acc_2_0[i] && acc_2_0 !== x_acc_2_0[i]) begin
        bad = 1;
        if (errors < 10) $display("MISMATCH cycle %0d acc_2_0 %h expected %h", i, acc_2_0, x_acc_2_0[i]);
      end
      if (m_acc_2_1[i] && acc_2_1 !== x_acc_2_1[i]) begin
        bad = 1;
        if (errors < 10) $display("MISMATCH cycle %0d acc_2_1 %h expected %h", i, acc_2_1, x_acc_2_1[i]);
      end
      if (m_acc_2_2[i] && acc_2_2 !== x_acc_2_2[i]) begin
        bad = 1;
        if (errors < 10) $display("MISMATCH cycle %0d acc_2_2 %h expected %h", i, acc_2_2, x_acc_2_2[i]);
      end
      if (m_acc_2_3[i] && acc_2_3 !== x_acc_2_3[i]) begin
        bad = 1;
        if (errors < 10) $display("MISMATCH cycle %0d acc_2_3 %h expected %h", i, acc_2_3, x_acc_2_3[i]);
      end
      if (m_acc_3_0[i] && acc_3_0 !== x_acc_3_0[i]) begin
        bad = 1;
        if (errors < 10) $display("MISMATCH cycle %0d acc_3_0 %h expected %h", i, acc_3_0, x_acc_3_0[i]);
      end
      if (m_acc_3_1[i] && acc_3_1 !== x_acc_3_1[i]) begin
        bad = 1;
        if (errors < 10) $display("MISMATCH cycle %0d acc_3_1 %h expected %h", i, acc_3_1, x_acc_3_1[i]);
      end
      if (m_acc_3_2[i] && acc_3_2 !== x_acc_3_2[i]) begin
        bad = 1;
        if (errors < 10) $display("MISMATCH cycle %0d acc_3_2 %h expected %h", i, acc_3_2, x_acc_3_2[i]);
      end
      if (m_acc_3_3[i] && acc_3_3 !== x_acc_3_3[i]) begin
        bad = 1;
        if (errors < 10) $display("MISMATCH cycle %0d acc_3_3 %h expected %h", i, acc_3_3, x_acc_3_3[i]);
      end
      if (done !== x_done[i]) begin
        bad = 1;
        if (errors < 10) $display("MISMATCH cycle %0d done %h expected %h", i, done, x_done[i]);
      end
      if (bad) errors = errors + 1;
      clk = 1;
      #1;
      clk = 0;
      #1;
    end
    $display("RESULT %0d %0d", 187, errors);
    $finish;
  end
endmodule
