"""The update rules of Caffe's solvers, one function each.

Each takes a parameter's (normalized, regularized) gradient, its history
arrays and the step's settings, and returns the value that Caffe's Net
Update subtracts from the parameter. History arrays are updated in place.
"""
import numpy as np


def sgd(diff, history, rate, s, iteration):
    history[0] *= np.float32(s.momentum)
    history[0] += np.float32(rate) * diff
    return history[0].copy()


def nesterov(diff, history, rate, s, iteration):
    previous = history[0].copy()
    history[0] *= np.float32(s.momentum)
    history[0] += np.float32(rate) * diff
    return np.float32(1 + s.momentum) * history[0] - np.float32(s.momentum) * previous


def adagrad(diff, history, rate, s, iteration):
    history[0] += diff * diff
    return np.float32(rate) * diff / (np.sqrt(history[0]) + np.float32(s.delta))


def rmsprop(diff, history, rate, s, iteration):
    decay = np.float32(s.rms_decay)
    history[0] *= decay
    history[0] += (1 - decay) * diff * diff
    return np.float32(rate) * diff / (np.sqrt(history[0]) + np.float32(s.delta))


def adadelta(diff, history, rate, s, iteration):
    gradients, updates = history
    momentum, delta = np.float32(s.momentum), np.float32(s.delta)
    gradients *= momentum
    gradients += (1 - momentum) * diff * diff
    step = diff * np.sqrt((updates + delta) / (gradients + delta))
    updates *= momentum
    updates += (1 - momentum) * step * step
    return np.float32(rate) * step


def adam(diff, history, rate, s, iteration):
    m, v = history
    beta1, beta2 = np.float32(s.momentum), np.float32(s.momentum2)
    t = iteration + 1
    correction = np.sqrt(np.float32(1) - beta2 ** t) / (np.float32(1) - beta1 ** t)
    m *= beta1
    m += (1 - beta1) * diff
    v *= beta2
    v += (1 - beta2) * diff * diff
    return np.float32(rate * correction) * m / (np.sqrt(v) + np.float32(s.delta))


# type name: (update function, history arrays per parameter)
RULES = {"SGD": (sgd, 1), "Nesterov": (nesterov, 1), "AdaGrad": (adagrad, 1), "RMSProp": (rmsprop, 1),
         "AdaDelta": (adadelta, 2), "Adam": (adam, 2)}
