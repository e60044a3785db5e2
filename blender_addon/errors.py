"""The add-on's one exception: a problem the user can fix, told in one sentence through `Operator.report`."""


class UserError(Exception):
    pass
