"""Routes of the server core (being written)."""

from fastapi import APIRouter

router = APIRouter()
