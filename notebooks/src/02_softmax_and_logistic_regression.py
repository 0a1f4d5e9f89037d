# %% [markdown]
# # 2. Softmax, logistic regression and their gradients
#
# Every loss in this project is built from two pieces: the **softmax** over many classes and
# the **sigmoid** of logistic regression ([逻辑回归](../docs/glossary.md#logistic-regression)). This notebook derives their gradients
# ([梯度](../docs/glossary.md#gradient)), checks each one against TensorFlow's automatic differentiation ([自动微分](../docs/glossary.md#autodiff),
# `tf.GradientTape`), and shows that a softmax over two classes *is* a logistic regression.
# That last fact is why negative sampling and NCE (notebook 3) can replace a $V$-way softmax
# by a handful of binary decisions.
#
# The formulas live in `w2v_tf/study/derivations.py`; this notebook imports them.
#
# Notation (CS224n word2vec notes): a centre word $c$ with input vector $v_c \in \mathbb{R}^d$,
# outside vectors $U \in \mathbb{R}^{V \times d}$ (row $u_w$), the true outside word $o$,
# logits $z = U v_c$, prediction $\hat y = \operatorname{softmax}(z)$, one-hot target $y$.

# %%
%matplotlib inline
import numpy as np
import tensorflow as tf
import matplotlib.pyplot as plt

from w2v_tf.study import derivations as d

plt.rcParams["figure.dpi"] = 80
rng = np.random.default_rng(0)

# %% [markdown]
# ## The naive-softmax loss and its gradient
#
# $$\hat y_w = \frac{e^{z_w}}{\sum_{w'} e^{z_{w'}}}, \qquad
#   J = -\log \hat y_o = -z_o + \log \sum_{w} e^{z_w}.$$
#
# Differentiate the two terms: $\partial(-z_o)/\partial z_w = -\mathbb{1}[w=o]$, and
# $\partial \log\sum e^{z}/\partial z_w = e^{z_w}/\sum e^{z} = \hat y_w$. So
#
# $$\frac{\partial J}{\partial z} = \hat y - y .$$
#
# The chain rule through $z = U v_c$ gives the two parameter gradients:
#
# $$\frac{\partial J}{\partial v_c} = U^\top(\hat y - y) = \sum_w \hat y_w u_w - u_o,
#   \qquad
#   \frac{\partial J}{\partial u_w} = (\hat y_w - y_w)\, v_c .$$
#
# The first reads "expected outside vector under the model, minus the observed one": the
# gradient vanishes when the model's average prediction matches the data. Computing it costs
# $O(Vd)$ per example because of the sum over the whole vocabulary, which is the cost the
# sampled losses of notebooks 3 to 5 avoid.

# %%
V, dim = 12, 5
v_c = rng.normal(size=dim)
U = rng.normal(size=(V, dim))
o = 7

loss, d_vc, d_U = d.naive_softmax_gradients(v_c, o, U)
loss_tf, (d_vc_tf, d_U_tf) = d.autodiff_gradients(d.naive_softmax_loss_tf, v_c, o, U, wrt=[0, 2])
print(f"J = {loss:.6f} (analytic)  {loss_tf:.6f} (tf.nn.sparse_softmax_cross_entropy_with_logits)")
print("max |dJ/dv_c - autodiff| =", np.abs(d_vc - d_vc_tf).max())
print("max |dJ/dU   - autodiff| =", np.abs(d_U - d_U_tf).max())

# %%
# Check: the analytic gradients equal autodiff to float64 rounding.
assert abs(loss - loss_tf) < 1e-12
np.testing.assert_allclose(d_vc, d_vc_tf, rtol=1e-10, atol=1e-12)
np.testing.assert_allclose(d_U, d_U_tf, rtol=1e-10, atol=1e-12)
# ... and the "expected minus observed" form of dJ/dv_c.
y_hat = d.softmax(U @ v_c)
np.testing.assert_allclose(d_vc, y_hat @ U - U[o], rtol=1e-10, atol=1e-12)

# %% [markdown]
# ## The sigmoid and $\sigma' = \sigma(1-\sigma)$
#
# $\sigma(x) = 1/(1+e^{-x})$. By the chain rule,
#
# $$\sigma'(x) = \frac{e^{-x}}{(1+e^{-x})^2}
#   = \underbrace{\frac{1}{1+e^{-x}}}_{\sigma(x)}\;\underbrace{\frac{e^{-x}}{1+e^{-x}}}_{1-\sigma(x)}
#   = \sigma(x)\,(1-\sigma(x)) = \sigma(x)\,\sigma(-x).$$
#
# The last form, $\sigma(x)\sigma(-x)$, is how `d.sigmoid_derivative` computes it: for large
# $x$, $1-\sigma(x)$ rounds to 0 in floating point while $\sigma(-x)$ stays exact.
#
# Two more identities used everywhere below: $1 - \sigma(x) = \sigma(-x)$, and
# $\frac{d}{dx}\log\sigma(x) = 1 - \sigma(x) = \sigma(-x)$.

# %%
x = np.linspace(-8, 8, 401)
with tf.GradientTape() as tape:
    xt = tf.constant(x)
    tape.watch(xt)
    s_tf = tf.sigmoid(xt)
ds_tf = tape.gradient(s_tf, xt).numpy()

fig, ax = plt.subplots(figsize=(6, 3))
ax.plot(x, d.sigmoid(x), label=r"$\sigma(x)$")
ax.plot(x, d.sigmoid_derivative(x), label=r"$\sigma(x)(1-\sigma(x))$")
ax.plot(x[::20], ds_tf[::20], "k.", label="autodiff of tf.sigmoid")
ax.set_xlabel("x")
ax.legend()
plt.show()

# %%
# Check: s' = s(1 - s) against autodiff, and the large-x regime where 1 - s(x) underflows.
np.testing.assert_allclose(d.sigmoid_derivative(x), ds_tf, rtol=1e-12, atol=1e-15)
np.testing.assert_allclose(d.sigmoid(x) * (1 - d.sigmoid(x)), ds_tf, rtol=1e-9, atol=1e-15)
big = 40.0
assert 1.0 - d.sigmoid(big) == 0.0                    # the naive form loses everything here
np.testing.assert_allclose(d.sigmoid_derivative(big), np.exp(-big), rtol=1e-12)

# %% [markdown]
# ## Logistic regression and its gradient
#
# A binary label $t \in \{0, 1\}$ and a score $a = w \cdot x$. Logistic regression says
# $P(t=1 \mid x) = \sigma(a)$, and its loss is the binary cross-entropy ([交叉熵](../docs/glossary.md#cross-entropy))
#
# $$\ell = -t\log\sigma(a) - (1-t)\log\sigma(-a).$$
#
# With the identities above, $\partial\ell/\partial a = -t\,\sigma(-a) + (1-t)\,\sigma(a) = \sigma(a) - t$,
# so $\partial \ell / \partial w = (\sigma(a) - t)\,x$: the same "prediction minus target"
# shape as the softmax gradient. This is the gradient of every column of `tf.nn.nce_loss`
# and of our `negative_sampling_loss`, where the true class has $t=1$ and each sampled class
# $t=0$.

# %%
n = 6
X = rng.normal(size=(n, dim))
w = rng.normal(size=dim)
t = np.array([1, 0, 1, 1, 0, 0], dtype=np.float64)

with tf.GradientTape() as tape:
    wt = tf.constant(w)
    tape.watch(wt)
    a = tf.linalg.matvec(tf.constant(X), wt)
    ell = tf.reduce_sum(tf.nn.sigmoid_cross_entropy_with_logits(labels=tf.constant(t), logits=a))
grad_tf = tape.gradient(ell, wt).numpy()
grad_formula = (d.sigmoid(X @ w) - t) @ X            # sum_i (s(a_i) - t_i) x_i
print("autodiff:", np.round(grad_tf, 6))
print("formula :", np.round(grad_formula, 6))

# %%
# Check: (s(a) - t) x equals autodiff of TensorFlow's binary cross-entropy.
np.testing.assert_allclose(grad_formula, grad_tf, rtol=1e-10, atol=1e-12)

# %% [markdown]
# ## A 2-class softmax is a logistic regression on the weight difference
#
# With two classes and scores $a_i = w_i \cdot x + b_i$, divide the numerator and the
# denominator of the softmax by $e^{a_1}$:
#
# $$\frac{e^{a_1}}{e^{a_0} + e^{a_1}} = \frac{1}{1 + e^{-(a_1 - a_0)}}
#   = \sigma\big((w_1 - w_0)\cdot x + b_1 - b_0\big).$$
#
# Only the *difference* of the two weight vectors matters: adding the same vector to $w_0$
# and $w_1$ changes nothing, so a $K$-class softmax has one redundant weight vector and a
# 2-class softmax is exactly a logistic regression with $w = w_1 - w_0$. The reverse reading
# is the idea behind NCE and negative sampling: a binary classifier "real pair or noise
# pair?" can stand in for the full softmax (notebook 3).

# %%
W2 = rng.normal(size=(2, dim))
b2 = rng.normal(size=2)
p_softmax = d.two_class_softmax(X, W2, b2)
p_logistic = d.logistic_of_difference(X, W2, b2)
shift = rng.normal(size=dim)                          # the same vector added to both rows
p_shifted = d.two_class_softmax(X, W2 + shift, b2 + 3.0)
print(np.c_[p_softmax, p_logistic, p_shifted].round(6))

# %%
# Check: softmax over 2 classes == sigmoid of the difference; a common shift changes nothing;
# and the gradient of the 2-class softmax cross-entropy w.r.t. w_1 is minus that w.r.t. w_0.
np.testing.assert_allclose(p_softmax, p_logistic, rtol=1e-12)
np.testing.assert_allclose(p_softmax, p_shifted, rtol=1e-12)
with tf.GradientTape() as tape:
    Wt = tf.constant(W2)
    tape.watch(Wt)
    logits = tf.matmul(tf.constant(X), Wt, transpose_b=True) + b2
    xent = tf.reduce_sum(tf.nn.sparse_softmax_cross_entropy_with_logits(
        labels=t.astype(np.int64), logits=logits))
g = tape.gradient(xent, Wt).numpy()
np.testing.assert_allclose(g[1], -g[0], rtol=1e-10, atol=1e-12)
np.testing.assert_allclose(g[1], grad_formula_2 := (p_logistic - t) @ X, rtol=1e-10, atol=1e-12)
print("dJ/dw_1 = (s((w1-w0).x + b1-b0) - t) x =", np.round(grad_formula_2, 6))
