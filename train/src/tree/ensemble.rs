//! A fitted tree ensemble and its in-process prediction, computed as ONNX Runtime's
//! `TreeEnsembleRegressor` does: f32 thresholds tested as `x <= threshold` (`BRANCH_LEQ`),
//! leaf values summed per output in f32 in tree order (divided by the tree count when
//! averaging), then the base values, then the link.

use super::export;
use super::grow;
use crate::frame::Matrix;
use crate::model::Learned;
use crate::onnx::Graph;
use rayon::prelude::*;

#[derive(Clone, Copy, Debug, PartialEq)]
pub enum TreeNode {
    /// Rows with `x[feature] <= threshold` go `left`.
    Split { feature: u32, threshold: f32, left: u32, right: u32 },
    /// The `at`-th leaf: its values are `Tree::values[at * width..(at + 1) * width]`.
    Leaf { at: u32 },
}

#[derive(Clone, Debug, PartialEq)]
pub struct Tree {
    /// Node 0 is the root.
    pub nodes: Vec<TreeNode>,
    pub values: Vec<f32>,
    /// The first output the leaves add to.
    pub target: usize,
}

impl Tree {
    /// The fitted form of a grown tree: thresholds from the cuts, each leaf's values from
    /// `leaf` of its sums.
    pub fn new(grown: &[grow::Node], cuts: &[Vec<f32>], target: usize, leaf: impl Fn(&[f64]) -> Vec<f32>) -> Tree {
        let mut values = Vec::new();
        let mut leaves = 0;
        let nodes = grown
            .iter()
            .map(|node| match node {
                grow::Node::Split { feature, bin, left, right } => TreeNode::Split {
                    feature: *feature as u32,
                    threshold: cuts[*feature][*bin as usize],
                    left: *left as u32,
                    right: *right as u32,
                },
                grow::Node::Leaf { sums, .. } => {
                    values.extend(leaf(sums));
                    leaves += 1;
                    TreeNode::Leaf { at: leaves - 1 }
                }
            })
            .collect();
        Tree { nodes, values, target }
    }

    /// The leaf `row` lands in.
    pub fn leaf(&self, row: &[f32]) -> usize {
        let mut i = 0;
        loop {
            match self.nodes[i] {
                TreeNode::Split { feature, threshold, left, right } => {
                    i = if row[feature as usize] <= threshold { left } else { right } as usize;
                }
                TreeNode::Leaf { at } => return at as usize,
            }
        }
    }
}

/// How raw outputs become the learner's output.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Link {
    /// Values as they are (regression, forest probabilities).
    Identity,
    /// One raw score `s` → probabilities `[1 − σ(s), σ(s)]`.
    Logistic,
    /// Raw scores per class → softmax probabilities.
    Softmax,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Ensemble {
    pub trees: Vec<Tree>,
    /// Values per leaf.
    pub width: usize,
    /// Raw outputs.
    pub outputs: usize,
    /// Added to each raw output after the trees.
    pub base: Vec<f32>,
    /// Average the trees (forest) rather than sum them (boosting).
    pub average: bool,
    pub link: Link,
}

impl Ensemble {
    /// Columns of the learner's output.
    pub fn columns(&self) -> usize {
        match self.link {
            Link::Logistic => 2,
            Link::Identity | Link::Softmax => self.outputs,
        }
    }

    /// The raw outputs of one row, into `raw`.
    fn raw(&self, row: &[f32], raw: &mut [f32]) {
        raw.fill(0.0);
        for tree in &self.trees {
            let at = tree.leaf(row) * self.width;
            for (r, v) in raw[tree.target..tree.target + self.width].iter_mut().zip(&tree.values[at..]) {
                *r += v;
            }
        }
        if self.average {
            let n = self.trees.len() as f32;
            raw.iter_mut().for_each(|r| *r /= n);
        }
        for (r, b) in raw.iter_mut().zip(&self.base) {
            *r += b;
        }
    }

    fn predict_row(&self, row: &[f32], out: &mut [f32]) {
        match self.link {
            Link::Identity => self.raw(row, out),
            Link::Logistic => {
                let mut s = [0.0];
                self.raw(row, &mut s);
                let p = 1.0 / (1.0 + (-s[0]).exp());
                out.copy_from_slice(&[1.0 - p, p]);
            }
            Link::Softmax => {
                self.raw(row, out);
                let max = out.iter().copied().fold(f32::NEG_INFINITY, f32::max);
                out.iter_mut().for_each(|v| *v = (*v - max).exp());
                let sum: f32 = out.iter().sum();
                out.iter_mut().for_each(|v| *v /= sum);
            }
        }
    }
}

impl Learned for Ensemble {
    fn predict(&self, x: &Matrix) -> Vec<f32> {
        let c = self.columns();
        let mut out = vec![0.0; x.rows * c];
        out.par_chunks_mut(c * 1024).enumerate().for_each(|(block, chunk)| {
            for (i, o) in chunk.chunks_mut(c).enumerate() {
                self.predict_row(x.row(block * 1024 + i), o);
            }
        });
        out
    }

    fn export(&self, g: &mut Graph, features: &str) -> String {
        export::export(self, g, features)
    }
}
