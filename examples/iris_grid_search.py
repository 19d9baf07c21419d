"""The scikit-learn MLP walk-through on Iris from "Neural Networks Fundamentals" (the
project's founding notes), run as written with ``xpnn.sklearn.MLPClassifier`` in place of
scikit-learn's: train/evaluate, the 20 repeated runs, and the grid search. Data: the bundled
Iris (the walk-through downloads the same 150 rows).

    python examples/iris_grid_search.py            # about a minute on 2 cores
    python examples/iris_grid_search.py --sklearn  # the same with scikit-learn's MLPClassifier
"""

import sys
import time
import warnings

import numpy as np
from sklearn.metrics import accuracy_score, confusion_matrix
from sklearn.model_selection import GridSearchCV, train_test_split

from xpnn.datasets import load_iris

if "--sklearn" in sys.argv:
    from sklearn.neural_network import MLPClassifier
else:
    from xpnn.sklearn import MLPClassifier

warnings.simplefilter("ignore")  # ConvergenceWarning at max_iter, as with scikit-learn's
started = time.perf_counter()

# Prepare data (the walk-through reads iris.csv with pandas: the same values and species names)
iris = load_iris()
X = iris.X
y = np.array(iris.target_names)[iris.y]

# Train/test split
X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.3, random_state=42)

# Create neural network with 3 hidden layers
# Architecture: 4 inputs → 20 neurons → 30 neurons → 25 neurons → 3 outputs
mlp = MLPClassifier(hidden_layer_sizes=(20, 30, 25),
                    max_iter=1000,
                    activation='relu',
                    solver='adam',
                    random_state=42)

# Train
mlp.fit(X_train, y_train)

# Predictions
y_pred = mlp.predict(X_test)

# Evaluate
accuracy = accuracy_score(y_test, y_pred)
print(f"Test Accuracy: {accuracy:.3f}")

# Confusion matrix
cm = confusion_matrix(y_test, y_pred)
print("\nConfusion Matrix:")
print(cm)

# Run multiple times to assess stability
scores = []
for i in range(20):
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.5, random_state=i)

    mlp = MLPClassifier(hidden_layer_sizes=(20, 30, 25), max_iter=1000, random_state=i)
    mlp.fit(X_train, y_train)

    y_pred = mlp.predict(X_test)
    accuracy = accuracy_score(y_test, y_pred)
    scores.append(accuracy)

print(f"Average accuracy: {np.mean(scores):.3f}")
print(f"Std deviation: {np.std(scores):.3f}")
print(f"Min: {np.min(scores):.3f}, Max: {np.max(scores):.3f}")

# Define hyperparameter grid
param_grid = {
    'hidden_layer_sizes': [(50,), (100,), (50, 50), (100, 50)],
    'activation': ['relu', 'tanh'],
    'alpha': [0.0001, 0.001, 0.01],  # L2 regularization strength
    'learning_rate_init': [0.001, 0.01]
}

# Grid search with cross-validation
grid_search = GridSearchCV(MLPClassifier(max_iter=1000), param_grid, cv=5, scoring='accuracy')
grid_search.fit(X_train, y_train)

print("Best parameters:", grid_search.best_params_)
print("Best CV score:", grid_search.best_score_)

# Evaluate on test set
best_model = grid_search.best_estimator_
test_accuracy = best_model.score(X_test, y_test)
print(f"Test accuracy: {test_accuracy:.3f}")
print(f"({MLPClassifier.__module__}.MLPClassifier, {time.perf_counter() - started:.1f} s)")
