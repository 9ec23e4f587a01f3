"""TFlearn's ``tflearn.helpers``: ``Trainer`` / ``TrainOp`` (train any loss of your own tensors on deepscope's
training loop), ``Evaluator``, weight and activation regularizers, and TensorBoard summaries.

A TFlearn graph tensor becomes a function of the feed: ``TrainOp(loss=lambda feed: ..., optimizer=...)``
computes the loss from a batch of ``feed`` (the same keys as the feed dict given to ``Trainer.fit``).
"""
from .evaluator import Evaluator
from .generator import SequenceGenerator
from .regularizer import add_activation_regularizer, add_weights_regularizer
from .summarizer import summarize, summarize_activations, summarize_all, summarize_gradients, summarize_variables
from .trainer import TrainOp, Trainer, TrainingState

__all__ = ["Evaluator", "Trainer", "TrainOp", "TrainingState", "SequenceGenerator", "add_weights_regularizer",
           "add_activation_regularizer", "summarize", "summarize_activations", "summarize_gradients",
           "summarize_variables", "summarize_all"]
