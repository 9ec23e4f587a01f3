"""At least 40 bad inputs to the public API: each gets a clear ValueError / TypeError (or the
project's ModelFileError) naming the argument, never a raw torch error."""
from __future__ import annotations

import tempfile

import numpy as np
import pytest

import deepscope as tflearn
import deepscope.datasets.mnist  # noqa: F401
from deepscope import brain, introspect, runs, sweep

RAW_TORCH = ("mat1 and mat2", "size mismatch", "must match the size", "Invalid device string", "Errno",
             "Traceback", "shapes cannot be multiplied", "Expected input batch_size")


def net(out=2, act="softmax", loss="categorical_crossentropy"):
    n = tflearn.input_data(shape=[None, 4])
    n = tflearn.fully_connected(n, 8)
    n = tflearn.fully_connected(n, out, activation=act)
    return tflearn.regression(n, loss=loss)


def model():
    return tflearn.DNN(net(), device="cpu")


X = np.random.RandomState(0).rand(10, 4).astype("float32")
Y = np.eye(2)[np.arange(10) % 2]

CASES = [
    ('input_data shape None', 'input_data shape', lambda: tflearn.input_data()),
    ('input_data shape str', 'input_data shape', lambda: tflearn.input_data(shape="abc")),
    ('input_data shape neg', 'input_data shape', lambda: tflearn.input_data(shape=[None,-3])),
    ('input_data shape zero', 'input_data shape', lambda: tflearn.input_data(shape=[None,0])),
    ('fc n_units 0', 'n_units', lambda: tflearn.fully_connected(tflearn.input_data(shape=[None,4]),0)),
    ('fc n_units float', 'n_units', lambda: tflearn.fully_connected(tflearn.input_data(shape=[None,4]),2.5)),
    ('fc n_units str', 'n_units', lambda: tflearn.fully_connected(tflearn.input_data(shape=[None,4]),"ten")),
    ('fc activation unknown', 'activation', lambda: tflearn.fully_connected(tflearn.input_data(shape=[None,4]),3,activation="relux")),
    ('fc incoming ndarray', 'incoming', lambda: tflearn.fully_connected(np.zeros((3,4)),3)),
    ('fc incoming None', 'incoming', lambda: tflearn.fully_connected(None,3)),
    ('fc weights_init unknown', 'weights_init', lambda: tflearn.fully_connected(tflearn.input_data(shape=[None,4]),3,weights_init="bogus")),
    ('fc regularizer unknown', 'regularizer', lambda: tflearn.fully_connected(tflearn.input_data(shape=[None,4]),3,regularizer="L3")),
    ('dropout keep_prob 0', 'keep_prob', lambda: tflearn.dropout(tflearn.input_data(shape=[None,4]),0)),
    ('dropout keep_prob 2', 'keep_prob', lambda: tflearn.dropout(tflearn.input_data(shape=[None,4]),2.0)),
    ('conv_2d on 2d input', '4-D input', lambda: tflearn.conv_2d(tflearn.input_data(shape=[None,4]),8,3)),
    ('conv_2d filter too big', 'filter_size=7', lambda: tflearn.conv_2d(tflearn.input_data(shape=[None,4,4,1]),8,7,padding='valid')),
    ('conv_2d nb_filter 0', 'nb_filter', lambda: tflearn.conv_2d(tflearn.input_data(shape=[None,8,8,1]),0,3)),
    ('conv_2d padding bad', 'padding', lambda: tflearn.conv_2d(tflearn.input_data(shape=[None,8,8,1]),4,3,padding='full')),
    ('conv_2d strides 0', 'strides', lambda: tflearn.conv_2d(tflearn.input_data(shape=[None,8,8,1]),4,3,strides=0)),
    ('max_pool too big', 'kernel_size=5', lambda: tflearn.max_pool_2d(tflearn.input_data(shape=[None,2,2,1]),5,padding='valid')),
    ('lstm on 2d', '3-D input', lambda: tflearn.lstm(tflearn.input_data(shape=[None,4]),8)),
    ('embedding on float dim', 'input_dim', lambda: tflearn.embedding(tflearn.input_data(shape=[None,4]),input_dim=0,output_dim=3)),
    ('batchnorm on None', 'incoming', lambda: tflearn.batch_normalization(None)),
    ('regression optimizer unknown', 'optimizer', lambda: tflearn.regression(tflearn.fully_connected(tflearn.input_data(shape=[None,4]),2),optimizer="adamx")),
    ('regression loss unknown', 'loss', lambda: tflearn.regression(tflearn.fully_connected(tflearn.input_data(shape=[None,4]),2),loss="crossent")),
    ('regression metric unknown', 'metric', lambda: tflearn.regression(tflearn.fully_connected(tflearn.input_data(shape=[None,4]),2),metric="f2")),
    ('regression lr negative', 'learning_rate', lambda: tflearn.regression(tflearn.fully_connected(tflearn.input_data(shape=[None,4]),2),learning_rate=-1)),
    ('regression lr str', 'learning_rate', lambda: tflearn.regression(tflearn.fully_connected(tflearn.input_data(shape=[None,4]),2),learning_rate="fast")),
    ('regression batch_size 0', 'batch_size', lambda: tflearn.regression(tflearn.fully_connected(tflearn.input_data(shape=[None,4]),2),batch_size=0)),
    ('DNN network str', 'DNN network', lambda: tflearn.DNN("net")),
    ('DNN tb verbose 7', 'tensorboard_verbose', lambda: tflearn.DNN(net(), tensorboard_verbose=7)),
    ('DNN clip neg', 'clip_gradients', lambda: tflearn.DNN(net(), clip_gradients=-1.)),
    ('DNN device bogus', 'DNN device', lambda: tflearn.DNN(net(), device='gpu9000')),
    ('fit X wrong features', 'fit X_inputs', lambda: model().fit(np.zeros((10,5)),Y,n_epoch=1)),
    ('fit X/Y length', 'fit Y_targets', lambda: model().fit(X,Y[:5],n_epoch=1)),
    ('fit Y wrong columns', 'fit Y_targets', lambda: model().fit(X,np.eye(3)[np.arange(10)%3],n_epoch=1)),
    ('fit Y class index out of range', 'fit Y_targets', lambda: model().fit(X,np.arange(10)%5,n_epoch=1)),
    ('fit X strings', 'fit X_inputs', lambda: model().fit([["a"]*4]*10,Y,n_epoch=1)),
    ('fit X ragged', 'fit X_inputs', lambda: model().fit([[1,2,3,4],[1,2]],Y[:2],n_epoch=1)),
    ('fit X NaN', 'fit X_inputs', lambda: model().fit(np.full((10,4),np.nan),Y,n_epoch=1)),
    ('fit X empty', 'fit X_inputs', lambda: model().fit(np.zeros((0,4)),np.zeros((0,2)),n_epoch=1)),
    ('fit X None', 'fit X_inputs', lambda: model().fit(None,Y,n_epoch=1)),
    ('fit n_epoch 0', 'n_epoch', lambda: model().fit(X,Y,n_epoch=0)),
    ('fit n_epoch str', 'n_epoch', lambda: model().fit(X,Y,n_epoch="10")),
    ('fit batch_size 0', 'batch_size', lambda: model().fit(X,Y,n_epoch=1,batch_size=0)),
    ('fit validation_set bad', 'validation_set', lambda: model().fit(X,Y,n_epoch=1,validation_set="10%")),
    ('fit validation_set 1.5', 'validation_set', lambda: model().fit(X,Y,n_epoch=1,validation_set=1.5)),
    ('fit validation X shape', 'validation_set', lambda: model().fit(X,Y,n_epoch=1,validation_set=(np.zeros((3,7)),Y[:3]))),
    ('fit callbacks bad', 'callbacks', lambda: model().fit(X,Y,n_epoch=1,callbacks=[print])),
    ('fit snapshot_step 0', 'snapshot_step', lambda: model().fit(X,Y,n_epoch=1,snapshot_step=0)),
    ('fit X 3d for 2d input', 'fit X_inputs', lambda: model().fit(np.zeros((10,2,2)),Y,n_epoch=1)),
    ('predict wrong shape', 'predict X', lambda: model().predict(np.zeros((3,7)))),
    ('predict str', 'predict X', lambda: model().predict("hello")),
    ('predict 1d sample', 'predict X', lambda: model().predict([1,2,3,4])),
    ('evaluate length', 'evaluate', lambda: model().evaluate(X,Y[:3])),
    ('evaluate batch 0', 'batch_size', lambda: model().evaluate(X,Y,batch_size=0)),
    ('save to folder', 'model_file', lambda: model().save(tempfile.mkdtemp())),
    ('load wrong arch', 'does not match', lambda: tflearn.DNN(tflearn.regression(tflearn.fully_connected(tflearn.input_data(shape=[None,3]),2,activation='softmax')),device='cpu').load(model().save(tempfile.mkdtemp()+"/m.safetensors"))),
    ('load missing', 'does not exist', lambda: model().load("/nonexistent/m.safetensors")),
    ('get_weights str', 'get_weights', lambda: model().get_weights("W")),
    ('set_weights shape', 'set_weights', lambda: (lambda m: m.set_weights(m.net.parameters().__next__(), np.zeros((1,1))))(model())),
    ('to_categorical neg', 'to_categorical', lambda: tflearn.data_utils.to_categorical([0,-1,2],3)),
    ('to_categorical out of range', 'nb_classes', lambda: tflearn.data_utils.to_categorical([0,5],3)),
    ('to_categorical nb_classes 0', 'nb_classes', lambda: tflearn.data_utils.to_categorical([0,1],0)),
    ('pad_sequences maxlen neg', 'maxlen', lambda: tflearn.data_utils.pad_sequences([[1,2]],maxlen=-1)),
    ('shuffle lengths', 'shuffle', lambda: tflearn.data_utils.shuffle(np.zeros(3),np.zeros(4))),
    ('optimizer lr neg', 'learning_rate', lambda: tflearn.optimizers.Adam(learning_rate=-0.1)),
    ('optimizer momentum str', 'momentum', lambda: tflearn.optimizers.Momentum(momentum="high")),
    ('optimizer get unknown', 'adamz', lambda: tflearn.optimizers.get("adamz")),
    ('activation get unknown', 'reluu', lambda: tflearn.activations.get("reluu")),
    ('losses get unknown', 'mse2', lambda: tflearn.losses.get("mse2")),
    ('mnist bad limit', 'limit', lambda: deepscope.datasets.mnist.load_data(limit=-5)),
    ('set_seed neg', 'set_seed', lambda: tflearn.set_seed(-1)),
    ('fit Y None', 'fit Y_targets', lambda: model().fit(X, None)),
    ('DNN device mps absent', 'DNN device', lambda: tflearn.DNN(net(), device="mps")),
    # the analyses: empty arrays, text, the wrong result object (found by calling every exported function)
    ('rdm empty', 'rdm features', lambda: introspect.rdm(np.zeros((0, 3)))),
    ('linear_cka empty', 'linear_cka', lambda: introspect.linear_cka(np.zeros((0, 3)), np.zeros((0, 3)))),
    ('participation_ratio empty', 'participation_ratio', lambda: introspect.participation_ratio(np.zeros((0, 3)))),
    ('svcca empty', 'svcca', lambda: introspect.svcca(np.zeros((0, 3)), np.random.rand(6, 4))),
    ('powerlaw_exponent text', 'powerlaw_exponent spectrum', lambda: introspect.powerlaw_exponent("abc")),
    ('sparseness None', 'sparseness responses', lambda: introspect.sparseness(None, 0)),
    ('plot_similarity_matrix text', 'plot_similarity_matrix matrix',
     lambda: introspect.plot_similarity_matrix("abc", None, "x.png")),
    ('plot_images None', 'plot_images images', lambda: introspect.plot_images(None, "x.png")),
    ('oriented_gratings angle', 'oriented_gratings angle', lambda: introspect.oriented_gratings(None)),
    ('plot_tuning_curves text', 'plot_tuning_curves curves', lambda: introspect.plot_tuning_curves("abc", [1], "x.png")),
    ('format_health list', 'format_health report', lambda: introspect.format_health([1, 2])),
    ('plot_across_seeds dict', 'plot_across_seeds summary', lambda: introspect.plot_across_seeds({}, "cka", "x.png")),
    ('lesion_top_k study', 'lesion_top_k study', lambda: introspect.lesion_top_k(model(), [1, 2], 3)),
    ('attribution_over_models method', 'attribution_over_models method',
     lambda: introspect.attribution_over_models("saliency", [model(), model()], X)),
    ('upper_vectors text', 'upper_vectors rdms', lambda: brain.upper_vectors("abc")),
    ('upper_vectors not square', 'upper_vectors rdms', lambda: brain.upper_vectors(np.zeros((3, 4)))),
    ('kendall_tau_a None', 'kendall_tau_a', lambda: brain.kendall_tau_a(None, [1, 2])),
    ('kendall_tau_a lengths', 'kendall_tau_a', lambda: brain.kendall_tau_a([1, 2, 3], [1, 2])),
    ('encoding_scores empty', 'encoding_scores features', lambda: brain.encoding_scores(np.zeros((0, 3)), np.random.rand(6, 4))),
    ('plot_layer_rsa array', 'plot_layer_rsa result', lambda: brain.plot_layer_rsa(np.zeros(3), "x.png")),
    ('plot_encoding None', 'plot_encoding result', lambda: brain.plot_encoding(None, "x.png")),
    ('plot_trajectory None', 'plot_trajectory trajectory', lambda: brain.plot_trajectory(None, "x.png")),
    ('plot_drift one folder', 'plot_drift run_folders', lambda: brain.plot_drift("runs/a", "x.png")),
    ('aggregate text', 'aggregate rows', lambda: sweep.aggregate("abc", "val_acc")),
    ('stability_map list of numbers', 'stability_map study_or_rows', lambda: sweep.stability_table([1, 2], "a", "b")),
    ('compare_runs array', 'compare_runs runs', lambda: runs.compare_runs(np.zeros(2))),
    ('flatten_config None', 'flatten_config config', lambda: runs.flatten_config(None)),
]


def test_there_are_at_least_40_cases():
    assert len(CASES) >= 40


@pytest.mark.parametrize("name,names,call", CASES, ids=[c[0] for c in CASES])
def test_bad_input_gets_a_clear_error(name, names, call):
    with pytest.raises((ValueError, TypeError)) as info:
        call()
    message = str(info.value)
    assert names in message, message
    assert any(w in message for w in ("expected", "unknown", "does not", "needs")), message
    assert not any(raw in message for raw in RAW_TORCH), message


def test_unknown_keywords_of_the_public_api_say_did_you_mean():
    from deepscope.sweep import Fit
    net = tflearn.input_data(shape=[None, 4])
    with pytest.raises(TypeError, match="fully_connected.*'activaton'.*Did you mean activation="):
        tflearn.fully_connected(net, 10, activaton="relu")
    out = tflearn.fully_connected(net, 2, activation="softmax")
    with pytest.raises(TypeError, match="regression.*Did you mean learning_rate="):
        tflearn.regression(out, learningrate=0.1)
    model = tflearn.DNN(tflearn.regression(out))
    X, Y = np.zeros((4, 4), "float32"), np.eye(2, dtype="float32")[[0, 1, 0, 1]]
    with pytest.raises(TypeError, match="DNN.fit.*Did you mean n_epoch="):
        model.fit(X, Y, n_epochs=3)
    with pytest.raises(TypeError, match="DNN.*Did you mean tensorboard_verbose="):
        tflearn.DNN(tflearn.regression(out), tensorbord_verbose=1)
    with pytest.raises(TypeError, match="lr_find.*Did you mean num_steps="):
        model.lr_find(X, Y, num_step=5)
    with pytest.raises(TypeError, match="Fit.*Did you mean n_epoch="):
        Fit(lambda: out, X, Y, epochs=3)


def test_channels_first_images_get_the_transpose_not_a_reshape():
    net = tflearn.input_data(shape=[None, 28, 28, 1])
    model = tflearn.DNN(tflearn.regression(tflearn.fully_connected(net, 10, activation="softmax")))
    with pytest.raises(ValueError, match=r"channels-first.*X.transpose\(0, 2, 3, 1\)"):
        model.predict(np.zeros((2, 1, 28, 28), "float32"))


@pytest.mark.skipif(__import__("torch").cuda.is_available(), reason="this machine has a GPU")
def test_a_cuda_device_on_a_machine_without_one_is_a_clear_error():
    """torch's own error is an AssertionError from inside .to(): 'Torch not compiled with CUDA enabled'."""
    from deepscope.sweep import train_ensemble
    with pytest.raises(ValueError, match="DNN device: expected a device this machine has .*no CUDA GPU"):
        tflearn.DNN(net(), device="cuda")
    with pytest.raises(ValueError, match="no CUDA GPU"):
        train_ensemble(net, X, Y, seeds=[0, 1], device="cuda:0")
