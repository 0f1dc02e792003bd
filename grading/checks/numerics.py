"""The numbers a gradient check computes, and the numbers common mistakes compute instead.

Each approximation takes a cost J (a function of a 1-D parameter array), the point theta
(shape (n,)) and the step eps, and returns an array of shape (n,). Each comparison takes
the analytic gradient g and the approximation a (both shape (n,)) and returns a float.
The correct pair is `central` with `relative_difference`; the rest model mistakes so that a
student's number can be recognized.
"""
import numpy as np


def _unit(n, i):
    e = np.zeros(n)
    e[i] = 1.0
    return e


def central(J, theta, eps):
    # (J(theta + eps e_i) - J(theta - eps e_i)) / (2 eps)
    n = theta.size
    return np.array([(J(theta + eps * _unit(n, i)) - J(theta - eps * _unit(n, i))) / (2 * eps) for i in range(n)])


def one_sided_forward(J, theta, eps):
    # (J(theta + eps e_i) - J(theta)) / eps
    n = theta.size
    return np.array([(J(theta + eps * _unit(n, i)) - J(theta)) / eps for i in range(n)])


def one_sided_backward(J, theta, eps):
    # (J(theta) - J(theta - eps e_i)) / eps
    n = theta.size
    return np.array([(J(theta) - J(theta - eps * _unit(n, i))) / eps for i in range(n)])


def central_without_half(J, theta, eps):
    # (J(theta + eps e_i) - J(theta - eps e_i)) / eps: the 2 of 2 eps forgotten
    return 2 * central(J, theta, eps)


def central_default_step(J, theta, eps):
    # The epsilon argument ignored: always a default step (1e-7 in Part 1, 1e-6 in Part 2). Either
    # gives a relative difference that is round-off on every case the checks diagnose with; 1e-6 the
    # smaller round-off (at 1e-7 a cubic cost's could reach the noise bar and name nothing)
    return central(J, theta, 1e-6)


def shared_vector(J, theta, eps):
    # theta_plus and theta_minus are the same array as theta (no copy): after theta[i] += eps,
    # "theta_minus = theta; theta_minus[i] -= eps" is back at theta, so J_minus = J(theta).
    n = theta.size
    return np.array([(J(theta + eps * _unit(n, i)) - J(theta)) / (2 * eps) for i in range(n)])


def copied_once(J, theta, eps):
    # theta_plus and theta_minus copied once before the loop: the shifts accumulate, so entry i
    # is evaluated with entries 0..i all shifted.
    n = theta.size
    shifted = np.cumsum(np.eye(n), axis=0)
    return np.array([(J(theta + eps * shifted[i]) - J(theta - eps * shifted[i])) / (2 * eps) for i in range(n)])


def not_restored(J, theta, eps):
    # The parameter vector shifted in place and never put back: theta[i] += eps, J_plus, theta[i] -= 2 eps,
    # J_minus, and theta[i] stays at theta_i - eps, so entry i is evaluated with entries 0..i-1 at -eps.
    n = theta.size
    earlier = np.tril(np.ones((n, n)), -1)
    return np.array([(J(theta - eps * earlier[i] + eps * _unit(n, i)) - J(theta - eps * earlier[i] - eps * _unit(n, i)))
                     / (2 * eps) for i in range(n)])


def unshifted(J, theta, eps):
    # J_plus and J_minus both evaluated at theta (the shifted copy never reaches the cost): 0
    return np.zeros(theta.size)


def halved_times_step(J, theta, eps):
    # (J_plus - J_minus) / 2 * eps: precedence, the step multiplies instead of divides
    return central(J, theta, eps) * eps * eps


def skips_last(J, theta, eps):
    # range(n - 1): the last entry is never approximated and stays 0
    approx = central(J, theta, eps)
    approx[-1] = 0.0
    return approx


def relative_difference(g, a):
    # ||g - a||_2 / (||g||_2 + ||a||_2), and 0 for 0/0: two zero gradients agree
    denominator = np.linalg.norm(g) + np.linalg.norm(a)
    return float(np.linalg.norm(g - a) / denominator) if denominator > 0 else 0.0


def absolute_difference(g, a):
    return float(np.linalg.norm(g - a))


def over_gradient_norm(g, a):
    return float(np.linalg.norm(g - a) / np.linalg.norm(g))


def over_approximation_norm(g, a):
    return float(np.linalg.norm(g - a) / np.linalg.norm(a))


def over_norm_of_sum(g, a):
    return float(np.linalg.norm(g - a) / np.linalg.norm(g + a))


def squared_norms(g, a):
    return float(np.sum((g - a) ** 2) / (np.sum(g ** 2) + np.sum(a ** 2)))


def elementwise_mean(g, a):
    return float(np.mean(np.abs(g - a) / (np.abs(g) + np.abs(a))))


def signed_difference(g, a):
    return float(np.sum(g - a) / (np.linalg.norm(g) + np.linalg.norm(a)))


def broadcast_difference(g, a):
    # grad of shape (n, 1) minus gradapprox of shape (n,): NumPy broadcasts to an (n, n) matrix
    return float(np.linalg.norm(g.reshape(-1, 1) - a.reshape(1, -1)) / (np.linalg.norm(g) + np.linalg.norm(a)))
