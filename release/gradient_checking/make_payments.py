"""Generate payments.csv: a small synthetic set of card payments with a fraud label.

Nothing here is real data. Each row is one payment with four numeric features:
  amount         -- the payment in dollars (log-normal: many small, a few large)
  hour           -- hour of the day, 0 to 23
  distance_km    -- distance between the card holder's home and the merchant
  merchant_risk  -- the merchant's past fraud rate, a score between 0 and 1
Fraud is drawn from a logistic model in which large night-time payments far from
home, and payments at risky merchants, are suspicious. The interaction makes the
classes not linearly separable, so a network with hidden layers has work to do.

Run `python make_payments.py` to write the file again; the seed makes it identical.
"""
import csv
import os

import numpy as np

SEED = 2026
NUM_PAYMENTS = 400
HERE = os.path.dirname(os.path.abspath(__file__))


def make_payments(num_payments=NUM_PAYMENTS, seed=SEED):
    """Return a list of row dicts, one per payment."""
    rng = np.random.default_rng(seed)
    amount = np.round(rng.lognormal(mean=3.5, sigma=1.0, size=num_payments), 2)
    hour = rng.integers(0, 24, size=num_payments)
    distance = np.round(rng.exponential(scale=30.0, size=num_payments), 1)
    risk = np.round(rng.beta(2, 8, size=num_payments), 3)

    night = (hour < 6) | (hour >= 22)
    large_far = (amount > 60) & (distance > 40)
    # Log-odds of fraud: mostly honest, with two interacting warning signs.
    logit = -9.0 + 12.0 * (large_far & night) + 9.0 * large_far + 45.0 * (risk - 0.2)
    fraud = rng.random(num_payments) < 1.0 / (1.0 + np.exp(-logit))

    return [
        {"amount": a, "hour": int(h), "distance_km": d, "merchant_risk": r, "fraud": int(f)}
        for a, h, d, r, f in zip(amount, hour, distance, risk, fraud)
    ]


def write_csv(rows, path=os.path.join(HERE, "payments.csv")):
    with open(path, "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)


if __name__ == "__main__":
    write_csv(make_payments())
