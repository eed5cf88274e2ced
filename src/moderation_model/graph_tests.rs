//! A small MobileNetV2-shaped model (asymmetric zero padding, strided 3x3 conv, depthwise conv
//! with `same` padding, batch norms, ReLU6, a residual add, a 1x1 conv, pooling, dense layers)
//! run by the engine (batch norms folded, ReLUs fused) against a direct, unfused f64
//! evaluation of the same layers written out in the test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use super::Classifier;
use super::test_support::TinyModel;
use serde_json::json;

/// `h x w x c` activations in f64, channels last.
#[derive(Clone)]
struct T {
    h: usize,
    w: usize,
    c: usize,
    v: Vec<f64>,
}

impl T {
    fn at(&self, y: isize, x: isize, ch: usize) -> f64 {
        if y < 0 || x < 0 || y as usize >= self.h || x as usize >= self.w {
            return 0.0;
        }
        self.v[(y as usize * self.w + x as usize) * self.c + ch]
    }
}

/// Direct convolution with a square `ks` kernel; `pad` leads on both axes; `out` is (side,
/// channels); `k[ky][kx][ci][co]` flattened; depthwise when `dw`.
fn conv(
    x: &T,
    k: &[f32],
    ks: usize,
    stride: usize,
    pad: usize,
    out: (usize, usize),
    dw: bool,
) -> T {
    let (out_hw, cout) = out;
    let mut v = Vec::new();
    for oy in 0..out_hw {
        for ox in 0..out_hw {
            for co in 0..cout {
                let mut sum = 0.0;
                for ky in 0..ks {
                    for kx in 0..ks {
                        let (y, xx) = (
                            (oy * stride + ky) as isize - pad as isize,
                            (ox * stride + kx) as isize - pad as isize,
                        );
                        if dw {
                            sum += x.at(y, xx, co) * f64::from(k[(ky * ks + kx) * x.c + co]);
                        } else {
                            for ci in 0..x.c {
                                sum += x.at(y, xx, ci)
                                    * f64::from(k[((ky * ks + kx) * x.c + ci) * cout + co]);
                            }
                        }
                    }
                }
                v.push(sum);
            }
        }
    }
    T {
        h: out_hw,
        w: out_hw,
        c: cout,
        v,
    }
}

fn bn_relu6(x: &T, bn: &[[f32; 4]], relu: bool) -> T {
    let mut out = x.clone();
    for (i, v) in out.v.iter_mut().enumerate() {
        let [g, b, m, var] = bn[i % x.c].map(f64::from);
        *v = g * (*v - m) / (var + 1e-3).sqrt() + b;
        if relu {
            *v = v.clamp(0.0, 6.0);
        }
    }
    out
}

fn values(n: usize, seed: f32) -> Vec<f32> {
    (0..n)
        .map(|i| (i as f32 * 0.37 + seed).sin() * 0.8)
        .collect()
}

fn bn_weights(m: &mut TinyModel, layer: &str, c: usize, seed: f32) -> Vec<[f32; 4]> {
    let rows: Vec<[f32; 4]> = (0..c)
        .map(|i| {
            let s = seed + i as f32;
            [
                1.0 + 0.3 * s.sin(),
                0.2 * s.cos(),
                0.1 * (2.0 * s).sin(),
                0.5 + 0.4 * s.cos().abs(),
            ]
        })
        .collect();
    for (j, part) in ["gamma", "beta", "moving_mean", "moving_variance"]
        .iter()
        .enumerate()
    {
        let v: Vec<f32> = rows.iter().map(|r| r[j]).collect();
        m.weight(&format!("{layer}/{part}"), &[c], &v);
    }
    rows
}

#[test]
fn the_engine_matches_a_direct_unfused_evaluation_of_the_same_layers() {
    let bn_cfg = json!({"axis": -1, "epsilon": 0.001, "center": true, "scale": true});
    let relu6 = json!({"max_value": 6, "negative_slope": 0, "threshold": 0});
    let conv_cfg = |k: usize, s: usize, pad: &str| {
        json!({"kernel_size": [k, k], "strides": [s, s], "padding": pad, "activation": "linear",
               "use_bias": false, "dilation_rate": [1, 1]})
    };
    let (k1, kd, kp) = (
        values(3 * 3 * 3 * 4, 0.1),
        values(3 * 3 * 4, 0.7),
        values(4 * 6, 1.3),
    );
    let (d1, d2) = (values(6 * 5, 2.1), values(5 * 5, 2.9));
    let mut m = TinyModel::new();
    m.layer(
        "pad",
        "ZeroPadding2D",
        json!({"padding": [[0, 1], [0, 1]]}),
        &["input_1"],
    )
    .layer("c1", "Conv2D", conv_cfg(3, 2, "valid"), &["pad"])
    .weight("c1/kernel", &[3, 3, 3, 4], &k1)
    .layer("c1_bn", "BatchNormalization", bn_cfg.clone(), &["c1"]);
    let bn1 = bn_weights(&mut m, "c1_bn", 4, 0.0);
    m.layer("c1_relu", "ReLU", relu6.clone(), &["c1_bn"])
        .layer(
            "dw",
            "DepthwiseConv2D",
            conv_cfg(3, 1, "same"),
            &["c1_relu"],
        )
        .weight("dw/depthwise_kernel", &[3, 3, 4, 1], &kd)
        .layer("dw_bn", "BatchNormalization", bn_cfg.clone(), &["dw"]);
    let bn2 = bn_weights(&mut m, "dw_bn", 4, 5.0);
    m.layer("dw_relu", "ReLU", relu6, &["dw_bn"])
        .layer("add", "Add", json!({}), &["c1_relu", "dw_relu"])
        .layer("pw", "Conv2D", conv_cfg(1, 1, "same"), &["add"])
        .weight("pw/kernel", &[1, 1, 4, 6], &kp)
        .layer("pw_bn", "BatchNormalization", bn_cfg, &["pw"]);
    let bn3 = bn_weights(&mut m, "pw_bn", 6, 9.0);
    m.layer(
        "pool",
        "AveragePooling2D",
        json!({"pool_size": [112, 112], "strides": [112, 112], "padding": "valid"}),
        &["pw_bn"],
    )
    .layer("flat", "Flatten", json!({}), &["pool"])
    .layer("d1", "Dense", json!({"activation": "relu"}), &["flat"])
    .weight("d1/kernel", &[6, 5], &d1)
    .weight("d1/bias", &[5], &[0.1, -0.1, 0.2, 0.0, 0.05])
    .layer("drop", "Dropout", json!({"rate": 0.5}), &["d1"])
    .layer("d2", "Dense", json!({"activation": "softmax"}), &["drop"])
    .weight("d2/kernel", &[5, 5], &d2)
    .weight("d2/bias", &[5], &[0.0; 5]);
    let dir = tempfile::tempdir().unwrap();
    m.write(dir.path(), "d2");
    let img = image::RgbImage::from_fn(224, 224, |x, y| {
        image::Rgb([(x % 256) as u8, (y * 3 % 256) as u8, ((x * y) % 251) as u8])
    });

    let got = Classifier::load(dir.path()).unwrap().classify_rgb(&img);

    let input = T {
        h: 224,
        w: 224,
        c: 3,
        v: img
            .as_raw()
            .iter()
            .map(|&v| f64::from(v as f32 / 255.0))
            .collect(),
    };
    // Padding [[0,1],[0,1]] then valid 3x3/2: 225 -> 112, no leading pad.
    let a = bn_relu6(&conv(&input, &k1, 3, 2, 0, (112, 4), false), &bn1, true);
    let b = bn_relu6(&conv(&a, &kd, 3, 1, 1, (112, 4), true), &bn2, true);
    let sum = T {
        v: a.v.iter().zip(&b.v).map(|(x, y)| x + y).collect(),
        ..a
    };
    let p = bn_relu6(&conv(&sum, &kp, 1, 1, 0, (112, 6), false), &bn3, false);
    let pooled: Vec<f64> = (0..6)
        .map(|ch| p.v.iter().skip(ch).step_by(6).sum::<f64>() / (112.0 * 112.0))
        .collect();
    let dense = |x: &[f64], k: &[f32], bias: &[f64], n: usize| -> Vec<f64> {
        (0..n)
            .map(|j| {
                bias[j]
                    + x.iter()
                        .enumerate()
                        .map(|(i, v)| v * f64::from(k[i * n + j]))
                        .sum::<f64>()
            })
            .collect()
    };
    let h1: Vec<f64> = dense(
        &pooled,
        &d1,
        &[0.1f32, -0.1, 0.2, 0.0, 0.05].map(f64::from),
        5,
    )
    .iter()
    .map(|v| v.max(0.0))
    .collect();
    let logits = dense(&h1, &d2, &[0.0; 5], 5);
    let max = logits.iter().copied().fold(f64::MIN, f64::max);
    let exp: Vec<f64> = logits.iter().map(|l| (l - max).exp()).collect();
    let want: Vec<f64> = exp.iter().map(|e| e / exp.iter().sum::<f64>()).collect();
    for (g, w) in got.0.iter().zip(&want) {
        assert!(
            (f64::from(*g) - w).abs() < 1e-5,
            "engine {:?}, direct {want:?}",
            got.0
        );
    }
}
