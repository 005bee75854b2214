"""Which NumPy names the emulated device module offers: functions wrapped to take and return
device arrays (``_FUNCTIONS``), and constants/dtype helpers passed through (``_PASSTHROUGH``).
A name outside both lists raises AttributeError on ``xp``, which flags code to check on CuPy."""
_FUNCTIONS = """
matmul dot tensordot einsum outer inner zeros zeros_like empty empty_like full full_like ones ones_like
eye identity arange linspace meshgrid indices maximum minimum fmax fmin where exp exp2 log log2 log10
log1p expm1 logaddexp sqrt square power reciprocal tanh sinh cosh sin cos tan arctan arctanh
abs absolute negative positive sign clip copyto concatenate stack vstack hstack split array_split
ascontiguousarray broadcast_to broadcast_arrays reshape ravel transpose moveaxis swapaxes
expand_dims squeeze atleast_1d atleast_2d pad sum mean max min amax amin argmax argmin prod
cumsum cumprod var std all any isfinite isnan isinf equal not_equal less less_equal greater
greater_equal logical_and logical_or logical_not logical_xor floor ceil round around rint trunc add
subtract multiply divide true_divide floor_divide mod remainder take take_along_axis
put_along_axis repeat tile flip roll sort argsort unique count_nonzero nonzero diag diagonal
trace tril triu allclose isclose array_equal copy diff searchsorted bincount astype
""".split()

_PASSTHROUGH = """
float16 float32 float64 int8 int16 int32 int64 uint8 uint16 uint32 uint64 bool_ complex64
complex128 dtype finfo iinfo result_type promote_types can_cast issubdtype newaxis inf nan pi e
ndim shape size isscalar
""".split()
